"""RealBatches: each iteration's real images from a stream of its own, read ahead for lazy sources."""

import threading
import time

import numpy as np
import torch
from PIL import Image

from condensed_data.condense.real_batches import RealBatches
from condensed_data.condense.registry import get_method
from condensed_data.data import ImageFolderSource, from_image_folder
from condensed_data.seeding import make_generator
from condensed_data.testing import tiny_real_dataset


class SlowSource:
    """A source whose draws take ``delay`` seconds and record the thread that ran them."""

    def __init__(self, real, delay):
        self.real, self.delay, self.threads = real, delay, []

    def sample_per_class(self, n, *, generator, keep=None):
        self.threads.append(threading.current_thread().name)
        time.sleep(self.delay)
        return self.real.sample_per_class(n, generator=generator, keep=keep)


def test_an_iteration_draws_the_same_images_with_or_without_prefetch_and_after_a_jump():
    real = tiny_real_dataset()
    plain = RealBatches(real, 3, seed=7, prefetch=False)
    ahead = RealBatches(real, 3, seed=7, prefetch=True)
    for it in (0, 1, 2, 5, 6):  # 5: a resumed run jumps; the read-ahead of 3 is dropped
        torch.testing.assert_close(ahead.get(it), plain.get(it), rtol=0, atol=0)
    torch.testing.assert_close(ahead.get(9, keep=[2]), plain.get(9, keep=[2]), rtol=0, atol=0)
    ahead.close()
    assert not torch.equal(plain.get(0), plain.get(1))  # iterations differ
    assert not torch.equal(plain.get(0), RealBatches(real, 3, seed=8).get(0))  # seeds differ


def test_prefetch_reads_the_next_iteration_in_the_background_and_hides_its_time():
    slow = SlowSource(tiny_real_dataset(), delay=0.2)
    batches = RealBatches(slow, 2, seed=0, prefetch=True)
    batches.get(0)  # nothing read ahead yet: waits for one draw
    first_wait = batches.waited
    time.sleep(0.3)  # the "matching step", during which iteration 1 is read
    batches.get(1)
    assert batches.waited - first_wait < 0.1 < first_wait
    assert set(slow.threads) == {slow.threads[0]} and slow.threads[0].startswith("real-batches")
    batches.close()
    assert batches._pool is None


def test_prefetch_is_on_for_lazy_sources_only(tmp_path):
    rng = np.random.default_rng(0)
    for c in ("a", "b"):
        (tmp_path / c).mkdir()
        for i in range(4):
            Image.fromarray(rng.integers(0, 256, (8, 8, 3), dtype=np.uint8)).save(tmp_path / c / f"{i}.png")
    lazy, memory = ImageFolderSource(tmp_path, cache="none"), from_image_folder(tmp_path)
    assert RealBatches(lazy, 2, seed=0).prefetch and not RealBatches(memory, 2, seed=0).prefetch
    # a lazy source read ahead gives the in-memory source's images, iteration by iteration
    ahead, plain = RealBatches(lazy, 2, seed=3), RealBatches(memory, 2, seed=3)
    for it in range(3):
        torch.testing.assert_close(ahead.get(it), plain.get(it), rtol=0, atol=0)
    ahead.close()


def test_a_matching_method_draws_its_real_images_from_the_iteration_stream():
    cls = get_method("dm")
    config = cls.config_class.from_dict({"batch_real": 4, "dsa_strategy": "none"})
    method = cls(tiny_real_dataset(), ipc=1, config=config, generator=make_generator(0))
    seen = []
    original = method.real_batches.get

    def spy(iteration, *, keep=None):
        seen.append(iteration)
        return original(iteration, keep=keep)

    method.real_batches.get = spy
    method.loss(iteration=4, generator=make_generator(1))
    method.close()
    assert seen == [4]
