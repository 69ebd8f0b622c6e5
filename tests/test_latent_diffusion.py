"""gdl.diffusion.latent and VectorGuidedDDPM: guidance on a vector condition, the frozen parts of
latent diffusion and of the DALL·E 2-style prior, and the trainable parts' gradients."""

import pytest
import torch

import gdl
from gdl.diffusion import DDPM, DiffusionPrior, LatentDiffusion, VectorGuidedDDPM
from gdl.latent import VAE
from gdl.multimodal import CLIP


def _clip():
    torch.manual_seed(0)
    return CLIP(image_shape=(1, 8, 8), num_levels=17, embed_dim=6, width=4, text_dim=8)


def _vae():
    torch.manual_seed(1)
    return VAE(event_shape=(1, 8, 8), num_levels=17, latent_dim=3, hidden=[8])


def _pairs(n=6):
    g = torch.Generator().manual_seed(2)
    return torch.randint(0, 17, (n, 1, 8, 8), generator=g), torch.randint(1, 20, (n, 6), generator=g)


def _pipelines():
    return {
        "text": LatentDiffusion(_vae(), _clip(), condition="text", scale=0.5, num_steps=10, hidden=[8]),
        "image": LatentDiffusion(_vae(), _clip(), condition="image", scale=0.5, num_steps=10, hidden=[8]),
        "prior": DiffusionPrior(_clip(), scale=0.4, num_steps=10, hidden=[8]),
    }


# ---------------------------------------------------------------- guidance on a vector condition
def _vector_guided():
    torch.manual_seed(0)
    model = VectorGuidedDDPM(dim=3, cond_dim=4, num_steps=20, hidden=[16])
    with torch.no_grad():  # a non-zero output layer and condition, so conditional and unconditional differ
        model.net.out.weight.normal_(0, 0.3)
        model.condition_embedding.weight.normal_(0, 1.0)
        model.condition_embedding.bias.normal_(0, 1.0)
    return model


def _sample(model, predict, n, seed, **kw):
    """The unguided reverse process of DDPM with the noise prediction replaced by ``predict``."""
    model.predict_noise = predict
    try:
        torch.manual_seed(seed)
        z_T = torch.randn(n, *model.event_shape)
        return DDPM.reverse(model, z_T, **kw)
    finally:
        del model.predict_noise


@pytest.mark.parametrize("kw", [{}, {"steps": 5}])
def test_vector_guidance_zero_is_conditional_sampling_and_minus_one_unconditional(kw):
    model = _vector_guided()
    c = torch.nn.functional.normalize(torch.randn(6, 4), dim=-1)
    net = model.net

    def conditional(x_t, t):
        t = model._as_steps(t, x_t)
        return net(x_t, model._net_time(t), model.condition_embedding(c))

    def unconditional(x_t, t):
        t = model._as_steps(t, x_t)
        return net(x_t, model._net_time(t), model.condition_embedding(torch.zeros_like(c)))

    for w, reference in ((0.0, conditional), (-1.0, unconditional)):
        torch.manual_seed(1)
        z_T = torch.randn(6, 3)
        guided = model.reverse(z_T, condition=c, guidance=w, **kw)
        assert torch.equal(guided, _sample(model, reference, 6, 1, **kw)), f"w = {w}"
    torch.manual_seed(1)
    assert torch.equal(model.reverse(torch.randn(6, 3), **kw), _sample(model, unconditional, 6, 1, **kw))
    torch.manual_seed(1)
    assert not torch.equal(model.reverse(torch.randn(6, 3), condition=c, guidance=2.0, **kw),
                           _sample(model, conditional, 6, 1, **kw))


def test_vector_guided_noise_is_the_stated_mixture_and_training_drops_the_condition():
    model = _vector_guided()
    c, z_t, t = torch.randn(3, 4), torch.randn(3, 3), torch.tensor([3, 10, 19])
    with model.conditioned(c, 0.0):
        eps_c = model.predict_noise(z_t, t)
    eps_u = model.predict_noise(z_t, t)
    with model.conditioned(c, 2.5):
        torch.testing.assert_close(model.predict_noise(z_t, t), 3.5 * eps_c - 2.5 * eps_u)
    seen = []
    original = model.condition_embedding.forward
    model.condition_embedding.forward = lambda v: seen.append(v.clone()) or original(v)
    model.loss(torch.randn(4000, 3), torch.ones(4000, 4))
    dropped = (seen[0] == 0).all(dim=1).float().mean().item()
    assert dropped == pytest.approx(model.p_uncond, abs=0.02)


def test_vector_guided_checks_its_arguments():
    model = _vector_guided()
    with pytest.raises(ValueError, match="condition"):
        model.sample(2, condition=torch.randn(2, 5))
    with pytest.raises(ValueError, match="condition"):
        model.sample(2, condition=torch.randn(3, 4))
    with pytest.raises(ValueError, match="guidance"):
        model.sample(2, condition=torch.randn(2, 4), guidance=-1.5)
    with pytest.raises(ValueError, match="x0_range"):
        VectorGuidedDDPM(dim=2, cond_dim=2, x0_range=0.0)
    with pytest.raises(NotImplementedError, match="loss"):
        model.elbo(torch.randn(2, 3))


def test_vector_guided_sampling_stays_in_range_with_few_steps():
    model = _vector_guided()
    z = model.sample(50, condition=torch.randn(50, 4), guidance=4.0, steps=3)
    assert z.abs().max() <= model.x0_range + 1e-5


# ---------------------------------------------------------------- the pipelines
@pytest.mark.parametrize("name", ["text", "image", "prior"])
def test_every_trainable_parameter_gets_a_gradient_and_no_frozen_one(name):
    model = _pipelines()[name]
    x, tokens = _pairs()
    loss = model.loss(x, tokens)
    assert loss.dim() == 0 and torch.isfinite(loss)
    loss.backward()
    trainable = dict(model.diffusion.named_parameters())
    assert trainable and model.num_parameters() == sum(p.numel() for p in trainable.values())
    for pname, p in trainable.items():
        assert p.grad is not None and torch.isfinite(p.grad).all(), f"{pname} got no finite gradient"
    for pname, p in model.named_parameters():
        if not pname.startswith("diffusion."):
            assert p.grad is None and not p.requires_grad, f"{pname} is not frozen"


@pytest.mark.parametrize("name", ["text", "image", "prior"])
def test_the_clip_and_the_autoencoder_stay_frozen_in_training(name):
    model = _pipelines()[name]
    frozen = {k: v.clone() for k, v in model.state_dict().items() if not k.startswith("diffusion.")}
    trained = {k: v.clone() for k, v in model.diffusion.state_dict().items()}
    gdl.fit(model, _pairs(), steps=3, batch_size=3, lr=0.1, log_every=0)
    assert not model.clip.training and (name == "prior" or not model.autoencoder.training)
    for k, v in model.state_dict().items():
        if k in frozen:
            assert torch.equal(v, frozen[k]), f"{k} changed in training"
    assert any(not torch.equal(v, trained[k]) for k, v in model.diffusion.state_dict().items())


def test_latent_diffusion_sampling_shapes_and_routes():
    models = _pipelines()
    _, tokens = _pairs(4)
    images = models["text"].sample(tokens=tokens, steps=3)
    assert images.shape == (4, 1, 8, 8) and images.dtype == torch.long
    u = models["prior"].sample(tokens, steps=3)
    torch.testing.assert_close(u.norm(dim=-1), torch.ones(4))
    assert models["image"].sample(condition=u, steps=3).shape == (4, 1, 8, 8)
    assert models["image"].sample(5, steps=3).shape == (5, 1, 8, 8)  # unconditional
    torch.manual_seed(0)
    a = models["text"].sample(tokens=tokens, steps=3)
    torch.manual_seed(0)
    assert torch.equal(a, models["text"].sample(tokens=tokens, steps=3))


def test_latent_diffusion_codes_are_the_scaled_posterior_means():
    model = _pipelines()["text"]
    x, tokens = _pairs()
    z, c = model.encode(x, tokens)
    torch.testing.assert_close(z, model.autoencoder.encode(x).mean / 0.5)
    torch.testing.assert_close(c, model.clip.encode_text(tokens))
    _, c_image = _pipelines()["image"].encode(x)
    torch.testing.assert_close(c_image, model.clip.encode_image(x))


def test_pipelines_check_their_arguments():
    models = _pipelines()
    x, tokens = _pairs()
    with pytest.raises(ValueError, match="condition"):
        LatentDiffusion(_vae(), _clip(), condition="sound")
    with pytest.raises(ValueError, match="tokens"):
        models["text"].encode(x)
    with pytest.raises(ValueError, match="tokens"):
        models["image"].sample(tokens=tokens)
    with pytest.raises(ValueError, match="scale"):
        DiffusionPrior(_clip(), scale=-1.0)
    with pytest.raises(ValueError, match="same number"):
        models["prior"].encode(x, tokens[:2])
    with pytest.raises(ValueError, match="one shape"):
        LatentDiffusion(VAE(event_shape=(1, 4, 4), num_levels=17, latent_dim=2, hidden=[8]), _clip())
