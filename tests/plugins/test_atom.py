import logging
import math

import pytest
import torch
from condensed_data_plugins.atom import ATOM, ATOMConfig
from helpers import accuracy_vs_random_real, optimize

from condensed_data.condense.driver import CondenseConfig, condense
from condensed_data.condense.objectives import AttentionMixer
from condensed_data.condense.registry import get_method
from condensed_data.seeding import make_generator
from condensed_data.testing import check_method, tiny_real_dataset


def test_registered_through_entry_point():
    assert get_method("atom") is ATOM


def test_contract():
    check_method(ATOM, options={"batch_real": 8})


def test_defaults_follow_datadam():
    cfg = ATOMConfig()
    assert (cfg.lr_img, cfg.momentum, cfg.batch_real, cfg.init, cfg.iters_per_net) == (1.0, 0.5, 64, "real", 1)
    assert ATOM.default_iterations == 8000
    method = ATOM(tiny_real_dataset(), ipc=1, generator=make_generator(0))
    assert method.objective == AttentionMixer(power=4.0, balance=0.01, channel=True, channel_at="after_norm")
    spatial_only = ATOM(
        tiny_real_dataset(), ipc=1, config=ATOMConfig(objective_options={"channel": False}), generator=make_generator(0)
    )
    assert spatial_only.objective.channel is False


def test_loss_equals_the_per_class_attention_formula():
    """The batched loss equals the formula evaluated class by class on the same draws."""
    real = tiny_real_dataset(per_class=12)
    method = ATOM(real, ipc=2, config=ATOMConfig(batch_real=5), generator=make_generator(0))
    loss = method.loss(iteration=0, generator=make_generator(1))

    g = make_generator(1)  # replay the draws in the order loss() makes them
    net = method.random_network(g)
    batch = real.normalize(real.sample_per_class(5, generator=method.real_batches.generator(0)))  # its own stream
    draw = method.dsa.draw(3, image_size=(8, 8), generator=g)
    obj = method.objective
    expected = torch.zeros(())
    for c in range(3):
        r = obj.features(net, method.dsa.apply(batch[c], draw, group=torch.full((5,), c)))
        s = obj.features(
            net, method.dsa.apply(method.representation.normalized[2 * c : 2 * c + 2], draw, group=torch.full((2,), c))
        )
        diffs = [(a.mean(0) - b.mean(0)).pow(2).sum() for a, b in zip(r, s, strict=True)]
        expected = expected + 100 * (sum(diffs[:-1]) + 0.01 * diffs[-1])
    assert torch.allclose(loss, expected, rtol=1e-4, atol=1e-5)


@pytest.mark.slow
def test_atom_beats_random_real_on_digits_ipc1(digits):
    train, test = digits
    method = optimize(ATOM(train, ipc=1, config=ATOMConfig(), generator=make_generator(0)), 200)
    ours, rand = accuracy_vs_random_real(method, train, test)
    assert ours > rand + 0.03, (ours, rand)


def test_gradient_norms_of_each_term_are_reported_when_asked():
    real = tiny_real_dataset(per_class=12)
    quiet = ATOM(real, ipc=2, config=ATOMConfig(batch_real=5), generator=make_generator(0))
    loss = quiet.loss(iteration=0, generator=make_generator(1))
    assert quiet.diagnostics() == {} and quiet.grad_norms == {}  # off by default: nothing computed

    cfg = ATOMConfig(batch_real=5, grad_norms_every=2, objective_options={"channel_at": "before_norm"})
    method = ATOM(real, ipc=2, config=cfg, generator=make_generator(0))
    loss = method.loss(iteration=0, generator=make_generator(1))
    norms = method.grad_norms
    assert set(norms) == {"match", "match.spatial", "match.channel", "match.embedding"}
    assert all(math.isfinite(v) and v > 0 for v in norms.values())
    # the whole match term's gradient norm is that of the loss, and the graph is kept for the step
    loss.backward()
    assert norms["match"] == pytest.approx(float(method.representation.normalized.grad.norm()), rel=1e-5)
    assert method.diagnostics() == {"match": method.terms["match"], **{f"grad_norm.{k}": v for k, v in norms.items()}}
    method.loss(iteration=1, generator=make_generator(2))
    assert method.diagnostics() == {}  # every 2 iterations only


def test_the_loop_logs_gradient_norms(caplog, tmp_path):
    run = CondenseConfig(
        method="atom",
        dataset="tiny",
        ipc=1,
        iterations=3,
        evaluate=False,
        options={"batch_real": 4, "grad_norms_every": 2},
    )
    with caplog.at_level(logging.INFO, logger="condensed_data.condense.loop"):
        result = condense(run, tmp_path / "out", real=tiny_real_dataset(), progress=False)
    assert [d["iteration"] for d in result.diagnostics] == [0, 2]
    assert all(math.isfinite(d["grad_norm.match.channel"]) for d in result.diagnostics)
    assert "loss of iteration 2: match" in caplog.text and "grad_norm.match.spatial" in caplog.text
