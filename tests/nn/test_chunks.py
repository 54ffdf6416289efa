"""Forward passes in chunks bounded by pixels (condensed_data.nn.chunks): the same losses and gradients as one pass."""

import pytest
import torch

from condensed_data.condense.registry import get_method
from condensed_data.seeding import make_generator
from condensed_data.testing import tiny_real_dataset


@pytest.mark.parametrize("method_name", ["dm", "atom", "echo"])
def test_chunked_real_and_checkpointed_synthetic_passes_match_one_pass(method_name, monkeypatch):
    cls = get_method(method_name)
    real = tiny_real_dataset(classes=3, per_class=12, shape=(1, 40, 40))

    def loss_and_grad(chunk_pixels):
        monkeypatch.setattr(cls, "CHUNK_PIXELS", chunk_pixels)
        config = cls.config_class.from_dict({"batch_real": 8})
        method = cls(real, ipc=4, config=config, generator=make_generator(0))
        calls = []
        features = method.objective.features
        spy = lambda net, x: calls.append(len(x)) or features(net, x)  # noqa: E731
        object.__setattr__(method.objective, "features", spy)  # a frozen dataclass
        loss = method.loss(iteration=0, generator=make_generator(1))
        loss.backward()
        return loss.detach(), method.parameters()[0].grad.clone(), calls

    whole, whole_grad, whole_calls = loss_and_grad(10**9)
    chunked, chunked_grad, chunked_calls = loss_and_grad(8 * 40 * 40)  # 8 images per forward pass
    assert whole_calls == [24, 12]  # the real batch (3 x 8), then the synthetic images (3 x 4)
    # the real side in passes of 8; the synthetic side in passes of 8 // 4, each run again in backward
    assert chunked_calls[:3] == [8, 8, 8] and chunked_calls[3:] == [2] * 12
    torch.testing.assert_close(chunked, whole, rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(chunked_grad, whole_grad, rtol=1e-4, atol=1e-6)


def test_evaluation_training_in_passes_matches_one_pass(monkeypatch):
    import condensed_data.evaluate.protocol as protocol

    real = tiny_real_dataset(classes=3, per_class=12, shape=(1, 16, 16))
    config = protocol.EvalConfig(epochs=3, models=1, batch_size=16, augmentation="none", precision="fp32")

    def trained(passes_of):
        monkeypatch.setattr(protocol, "backward_pass_size", lambda shape, count: min(passes_of, count))
        net = protocol.train_network(real.images, real.labels, num_classes=3, mean=(0.5,), std=(0.25,),
                                     config=config, generator=make_generator(0))  # fmt: skip
        return torch.cat([p.detach().flatten() for p in net.parameters()])

    torch.testing.assert_close(trained(5), trained(512), rtol=1e-3, atol=1e-4)  # summation order only
