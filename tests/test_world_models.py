"""World models: the mixture density, temperature, the dream, and what V's codes know."""

import math

import pytest
import torch

from gdl import data
from gdl.world_models import MDNRNN, dream, encode_frames, mdn_sample, num_weights, play, sequences, train_in_dream

pytest.importorskip("gymnasium")


def _heads(K=3, D=4, seed=0):
    torch.manual_seed(seed)
    m = MDNRNN(latent_dim=D, hidden=8, num_mixtures=K)
    z = torch.randn(5, 6, D)
    a = torch.randint(0, 2, (5, 6))
    (log_pi, loc, scale, done_logit), _ = m(z, a)
    return m, z, a, log_pi, loc, scale


# ------------------------------------------------------------------------------- the mixture
def test_mixture_nll_matches_brute_force():
    m, z, a, log_pi, loc, scale = _heads()
    target = torch.randn(5, 6, 4)
    nll = -m.distribution(log_pi, loc, scale).log_prob(target)  # (5, 6)
    # -log sum_k pi N, summed over dimensions, by hand in float64
    pi, mu, sd, x = (t.double() for t in (log_pi.exp(), loc, scale, target))
    gauss = torch.exp(-0.5 * ((x[..., None] - mu) / sd) ** 2) / (sd * math.sqrt(2 * math.pi))
    brute = -torch.log((pi * gauss).sum(-1)).sum(-1)
    torch.testing.assert_close(nll.double(), brute, rtol=1e-4, atol=1e-4)


def test_one_component_is_a_gaussian():
    m, z, a, log_pi, loc, scale = _heads(K=1)
    target = torch.randn(5, 6, 4)
    nll = -m.distribution(log_pi, loc, scale).log_prob(target)
    gauss = -torch.distributions.Normal(loc[..., 0], scale[..., 0]).log_prob(target).sum(-1)
    torch.testing.assert_close(nll, gauss, rtol=1e-5, atol=1e-5)


def test_weights_sum_to_one_per_dimension_not_over_the_batch():
    m, z, a, log_pi, loc, scale = _heads(K=3, D=4)
    pi = log_pi.exp()  # (B, T, D, K)
    torch.testing.assert_close(pi.sum(-1), torch.ones(5, 6, 4))
    # each latent dimension has its own weights: not one set shared by all dimensions
    assert not torch.allclose(pi[..., 0, :], pi[..., 1, :], atol=1e-3)
    # and the softmax is not over the batch
    assert not torch.allclose(pi.sum(0), torch.ones_like(pi.sum(0)), atol=1e-2)


def test_zero_temperature_returns_the_likeliest_mean():
    _, _, _, log_pi, loc, scale = _heads(K=3, D=4)
    best = loc.gather(-1, log_pi.argmax(-1, keepdim=True)).squeeze(-1)
    torch.testing.assert_close(mdn_sample(log_pi, loc, scale, tau=0.0), best)
    g = torch.Generator().manual_seed(0)
    torch.testing.assert_close(mdn_sample(log_pi, loc, scale, tau=1e-4, generator=g), best, atol=0.05, rtol=0)


def test_temperature_one_samples_the_mixture():
    # one dimension, two far-apart components weighted 0.2 / 0.8: the draw follows the weights
    log_pi = torch.log(torch.tensor([0.2, 0.8])).expand(20_000, 1, 2)
    loc = torch.tensor([-10.0, 10.0]).expand(20_000, 1, 2)
    z = mdn_sample(log_pi, loc, torch.ones(20_000, 1, 2), tau=1.0, generator=torch.Generator().manual_seed(0))
    assert abs((z > 0).float().mean().item() - 0.8) < 0.02


def test_bad_temperature_raises():
    _, _, _, log_pi, loc, scale = _heads()
    with pytest.raises(ValueError, match="tau"):
        mdn_sample(log_pi, loc, scale, tau=-1.0)


def test_bad_arguments_raise():
    with pytest.raises(ValueError, match="num_mixtures"):
        MDNRNN(latent_dim=2, num_mixtures=0)
    with pytest.raises(ValueError, match="episodes"):
        data.cartpole_rollouts(0)
    with pytest.raises(ValueError, match="states"):
        data.render_cartpole(torch.zeros(3, 2))


# ------------------------------------------------------------------------------- data
def test_random_rollouts_hold_each_action_for_hold_steps():
    env = data.make_cartpole()
    r = data.random_rollouts(env, 5, first_seed=7, hold=3)
    env.close()
    for actions in r.split(r.actions):
        taken = actions[:-1]  # the last state of an episode takes no action (-1)
        assert int(actions[-1]) == -1
        for start in range(0, len(taken), 3):
            block = taken[start : start + 3]
            assert torch.all(block == block[0]), f"action changed inside a held block: {block}"
    changes = sum(int((a[1:-1] != a[:-2]).sum()) for a in r.split(r.actions))
    assert changes > 0  # random actions, not one action throughout


def test_rollouts_are_seeded_and_sequences_mark_the_ending():
    r = data.cartpole_rollouts(6, seed=3)
    assert torch.equal(r.states, data.cartpole_rollouts(6, seed=3).states)
    assert len(r.states) == int((r.lengths + 1).sum())
    frames = data.render_cartpole(r.states)
    assert frames.shape == (len(r.states), 1, 32, 32) and int(frames.max()) == 3
    z_in, a, z_next, done, mask = sequences(r.states, r)  # the states themselves as codes
    assert torch.equal(mask.sum(1).long(), r.lengths)
    assert torch.equal(done.sum(1), r.terminated.float())
    e, t = 0, int(r.lengths[0]) - 1  # the last step of the first episode leads to its last state
    torch.testing.assert_close(z_next[e, t], r.split(r.states)[0][-1])
    assert done[e, t] == 1.0 and (a[mask.bool()] >= 0).all()


# ------------------------------------------------------------------------------- the dream
class StepFails:
    """An environment that fails if anything tries to reset or step it."""

    def reset(self, **kwargs):
        raise AssertionError("the dream reset the real environment")

    def step(self, action):
        raise AssertionError("the dream stepped the real environment")


def test_dream_uses_only_m(monkeypatch):
    import gymnasium

    stub = StepFails()
    monkeypatch.setattr(gymnasium, "make", lambda *args, **kwargs: stub)
    with pytest.raises(AssertionError, match="stepped|reset"):  # the stub does fail when used
        play(data.make_cartpole(), None, MDNRNN(latent_dim=2, hidden=4), None, 1)
    torch.manual_seed(0)
    m = MDNRNN(latent_dim=3, hidden=8)
    z0 = torch.randn(10, 3)
    returns = dream(m, torch.randn(4, num_weights(m)), z0, max_steps=30, generator=torch.Generator().manual_seed(0))
    assert returns.shape == (4, 10) and (returns >= 1).all() and (returns <= 30).all()
    weights, history = train_in_dream(m, z0, generations=2, popsize=4, episodes=3, max_steps=20, seed=0)
    assert weights.shape == (num_weights(m),) and len(history["mean"]) == 2


def test_dream_is_seeded():
    torch.manual_seed(0)
    m = MDNRNN(latent_dim=3, hidden=8)
    w, z0 = torch.randn(2, num_weights(m)), torch.randn(5, 3)
    one = dream(m, w, z0, max_steps=25, generator=torch.Generator().manual_seed(1))
    two = dream(m, w, z0, max_steps=25, generator=torch.Generator().manual_seed(1))
    assert torch.equal(one, two)


# ------------------------------------------------------------------------------- what V knows
def test_linear_probe_recovers_the_pole_angle():
    """A small VAE trained on frames for a few seconds: its codes predict the pole angle linearly."""
    import gdl
    from gdl.latent import VAE

    r = data.cartpole_rollouts(150, seed=0)
    frames = data.render_cartpole(r.states, size=16, num_levels=2)
    torch.manual_seed(0)
    vae = VAE(event_shape=(1, 16, 16), num_levels=2, latent_dim=4, hidden=[64])
    gdl.fit(vae, frames, steps=300, batch_size=64, lr=3e-3, seed=0, progress=False, log_every=0)
    z = encode_frames(vae, frames).double()
    angle = r.states[:, 2].double()
    n = len(z) * 3 // 4  # fit on the first episodes, score on the last
    X = torch.cat([z, torch.ones(len(z), 1, dtype=z.dtype)], 1)
    coef = torch.linalg.lstsq(X[:n], angle[:n, None]).solution
    residual = angle[n:] - (X[n:] @ coef).squeeze(1)
    r2 = 1 - residual.pow(2).mean() / (angle[n:] - angle[n:].mean()).pow(2).mean()
    print(f"linear probe R^2 of the pole angle from z: {r2.item():.3f}")
    assert r2 > 0.6  # chance is 0


def test_controller_with_more_actions_takes_the_best_score():
    m = MDNRNN(latent_dim=2, num_actions=3, hidden=1)
    assert num_weights(m) == 3 * 4
    w = torch.zeros(1, 3, 4)
    w[0, 2, 0] = 1.0  # action 2 scores z_0, the others 0
    from gdl.world_models import act

    z = torch.tensor([[[1.0, 0.0], [-1.0, 0.0]]])  # two episodes
    assert act(w.view(1, -1), z, torch.zeros(1, 2, 1)).tolist() == [[2, 0]]


def test_mdnrnn_rejects_bad_inputs():
    m = MDNRNN(latent_dim=2, hidden=4)
    with pytest.raises(ValueError, match="z must have shape"):
        m.step(torch.zeros(3, 5, 4), torch.zeros(3, 5, dtype=torch.long))
    with pytest.raises(ValueError, match="a must hold integers in 0..1"):
        m.step(torch.zeros(3, 5, 2), torch.full((3, 5), 2))
    with pytest.raises(ValueError, match="a must have shape"):
        m.step(torch.zeros(3, 5, 2), torch.zeros(3, 4, dtype=torch.long))
