"""Shared fixtures: tiny instances of every model, for the contract tests."""

import os

os.environ.setdefault("OMP_NUM_THREADS", "1")

import pytest  # noqa: E402
import torch  # noqa: E402

import gdl  # noqa: E402
from gdl.base import GenerativeModel  # noqa: E402
from gdl.autoregressive import MADE, CausalConvARM, PixelCNN  # noqa: E402

torch.set_num_threads(1)


def tiny_causal_conv_arm():
    model = CausalConvARM(event_shape=(1, 3, 3), num_levels=4, hidden=8, kernel_size=3, num_layers=3)
    data = torch.randint(0, 4, (16, 1, 3, 3), generator=torch.Generator().manual_seed(0))
    return model, data


def tiny_made():
    model = MADE(event_shape=(1, 3, 3), num_levels=4, hidden=[16, 16], seed=0)
    data = torch.randint(0, 4, (16, 1, 3, 3), generator=torch.Generator().manual_seed(0))
    return model, data


def tiny_pixelcnn():
    model = PixelCNN(event_shape=(1, 3, 3), num_levels=4, hidden=8, num_blocks=1, kernel_size=3)
    data = torch.randint(0, 4, (16, 1, 3, 3), generator=torch.Generator().manual_seed(0))
    return model, data


def _tiny_tokens():
    # Random ids 0..4 of length 6: a mix of full-length sequences and ones ended early by 0.
    return torch.randint(0, 5, (16, 6), generator=torch.Generator().manual_seed(0))


def tiny_char_lstm():
    from gdl.autoregressive import CharLSTM

    return CharLSTM(vocab_size=5, max_len=6, embed_dim=4, hidden=8), _tiny_tokens()


def tiny_gpt():
    from gdl.autoregressive import GPT

    return GPT(vocab_size=5, block_size=6, n_layer=2, n_head=2, n_embd=8), _tiny_tokens()


def _tiny_images():
    return torch.randint(0, 4, (16, 1, 3, 3), generator=torch.Generator().manual_seed(0))


def tiny_vae():
    from gdl.latent import VAE

    return VAE(event_shape=(1, 3, 3), num_levels=4, latent_dim=2, hidden=[8]), _tiny_images()


def tiny_beta_vae():
    from gdl.latent import BetaVAE

    return BetaVAE(beta=4.0, event_shape=(1, 3, 3), num_levels=4, latent_dim=2, hidden=[8]), _tiny_images()


def tiny_hierarchical_vae():
    from gdl.latent import HierarchicalVAE

    model = HierarchicalVAE(
        event_shape=(1, 3, 3), num_levels=4, latent_dims=(3, 2), hidden=[8], hidden_top=[4]
    )
    return model, _tiny_images()


def tiny_vqvae():
    from gdl.latent import VQVAE

    model = VQVAE(
        event_shape=(1, 4, 4), num_levels=4, num_codes=4, code_dim=2, hidden=4,
        prior_hidden=4, prior_blocks=1,
    )
    data = torch.randint(0, 4, (16, 1, 4, 4), generator=torch.Generator().manual_seed(0))
    return model, data


def tiny_realnvp():
    from gdl.flows import RealNVP

    data = torch.randn(16, 2, generator=torch.Generator().manual_seed(0))
    return RealNVP(event_shape=(2,), num_couplings=2, hidden=8), data


def tiny_glow():
    from gdl.flows import Glow

    model = Glow(event_shape=(1, 4, 4), levels=2, steps=1, hidden=4, num_levels=4)
    data = torch.randint(0, 4, (16, 1, 4, 4), generator=torch.Generator().manual_seed(0))
    return model, data


def tiny_maf():
    from gdl.flows import MAF

    data = torch.randn(16, 3, generator=torch.Generator().manual_seed(0))
    return MAF(event_shape=(3,), num_layers=2, hidden=[8]), data


def tiny_gan():
    from gdl.gan import GAN

    return GAN(event_shape=(2,), latent_dim=2, hidden=[8]), torch.randn(16, 2)


def tiny_dcgan():
    from gdl.gan import DCGAN

    data = torch.randint(0, 4, (16, 1, 4, 4), generator=torch.Generator().manual_seed(0))
    return DCGAN(event_shape=(1, 4, 4), num_levels=4, latent_dim=3, width=4), data


def tiny_vqgan():
    from gdl.gan import VQGAN
    from gdl.latent import VQVAE
    from gdl.quality import FeatureClassifier

    vqvae = VQVAE(event_shape=(1, 4, 4), num_levels=4, num_codes=4, code_dim=2, hidden=4,
                  prior_hidden=4, prior_blocks=1)
    model = VQGAN(vqvae, disc_start=0, disc_hidden=4, perceptual_network=FeatureClassifier(4, width=2, features=4))
    data = torch.randint(0, 4, (16, 1, 4, 4), generator=torch.Generator().manual_seed(0))
    return model, data


def tiny_wgan_gp():
    from gdl.gan import WGANGP

    return WGANGP(event_shape=(2,), latent_dim=2, hidden=[8], n_critic=2), torch.randn(16, 2)


def tiny_music_transformer():
    from gdl.autoregressive import MusicTransformer

    # Random (pitch, duration) ids: a mix of full windows and ones ended early by pitch 0.
    g = torch.Generator().manual_seed(0)
    data = torch.stack([torch.randint(0, 5, (16, 6), generator=g), torch.randint(1, 5, (16, 6), generator=g)], -1)
    model = MusicTransformer(block_size=6, n_layer=1, n_head=2, n_embd=8, pitch_tokens=5, duration_tokens=5)
    return model, data


def tiny_musegan():
    from gdl.gan import MuseGAN

    model = MuseGAN(n_bars=2, steps_per_bar=4, n_tracks=2, lowest_pitch=60, n_pitches=3, z_dim=2,
                    hidden=8, critic_width=4, n_critic=2)
    data = torch.randint(60, 63, (16, 2, 4, 2), generator=torch.Generator().manual_seed(0))
    return model, data


def tiny_progan():
    from gdl.gan import ProGAN

    # one step per phase: the four contract steps pass through 2x2, the fade-in and 4x4
    model = ProGAN(event_shape=(1, 4, 4), num_levels=4, latent_dim=3, width=4, phase_steps=1)
    return model, torch.randint(0, 4, (16, 1, 4, 4), generator=torch.Generator().manual_seed(0))


def tiny_stylegan():
    from gdl.gan import StyleGAN

    model = StyleGAN(event_shape=(1, 4, 4), num_levels=4, latent_dim=3, width=4, start_resolution=2,
                     mapping_layers=2, mixing_prob=0.5)
    return model, torch.randint(0, 4, (16, 1, 4, 4), generator=torch.Generator().manual_seed(0))


def tiny_conditional_gan():
    from gdl.gan import ConditionalGAN

    model = ConditionalGAN(event_shape=(1, 3, 3), num_levels=4, num_classes=3, latent_dim=2, hidden=[8])
    return model, _tiny_images()


def tiny_ebm():
    from gdl.energy import EBM

    model = EBM(event_shape=(2,), hidden=[8], steps=3, buffer_size=32)
    return model, torch.randn(16, 2, generator=torch.Generator().manual_seed(0))


def tiny_ncsn():
    from gdl.diffusion import NCSN

    model = NCSN(event_shape=(2,), hidden=[8], num_sigmas=3, steps_per_sigma=2)
    return model, torch.randn(16, 2, generator=torch.Generator().manual_seed(0))


def tiny_ddpm():
    from gdl.diffusion import DDPM

    return DDPM(event_shape=(1, 3, 3), num_levels=4, num_steps=10, hidden=[8]), _tiny_images()


def tiny_idf():
    from gdl.flows import IDF

    return IDF(event_shape=(1, 3, 3), num_levels=4, num_couplings=2, hidden=[8], num_mixtures=2,
               prior_chunks=3), _tiny_images()


def tiny_flow_matching():
    from gdl.flows import FlowMatching

    return FlowMatching(event_shape=(1, 3, 3), hidden=[8], coupling="ot", num_levels=4), _tiny_images()


def tiny_score_sde():
    from gdl.diffusion import ScoreSDE

    return ScoreSDE(event_shape=(1, 3, 3), num_levels=4, num_steps=10, hidden=[8]), _tiny_images()


def tiny_guided_ddpm():
    from gdl.diffusion import GuidedDDPM

    model = GuidedDDPM(num_classes=3, event_shape=(1, 3, 3), num_levels=4, num_steps=10, hidden=[8])
    return model, _tiny_images()


#: Model class name -> factory of (tiny model, a batch of its data). Every registered model
#: must appear here (test_contract checks that), so no model escapes the contract tests.
TINY_MODELS = {
    "CausalConvARM": tiny_causal_conv_arm,
    "MADE": tiny_made,
    "PixelCNN": tiny_pixelcnn,
    "CharLSTM": tiny_char_lstm,
    "GPT": tiny_gpt,
    "MusicTransformer": tiny_music_transformer,
    "VAE": tiny_vae,
    "BetaVAE": tiny_beta_vae,
    "HierarchicalVAE": tiny_hierarchical_vae,
    "VQVAE": tiny_vqvae,
    "RealNVP": tiny_realnvp,
    "Glow": tiny_glow,
    "MAF": tiny_maf,
    "GAN": tiny_gan,
    "DCGAN": tiny_dcgan,
    "WGANGP": tiny_wgan_gp,
    "MuseGAN": tiny_musegan,
    "ConditionalGAN": tiny_conditional_gan,
    "ProGAN": tiny_progan,
    "StyleGAN": tiny_stylegan,
    "VQGAN": tiny_vqgan,
    "EBM": tiny_ebm,
    "NCSN": tiny_ncsn,
    "DDPM": tiny_ddpm,
    "IDF": tiny_idf,
    "FlowMatching": tiny_flow_matching,
    "ScoreSDE": tiny_score_sde,
    "GuidedDDPM": tiny_guided_ddpm,
}


@pytest.fixture
def bound_model():
    """A stand-in latent-variable model with an ELBO only, registered for the test, then removed."""
    from gdl.taxonomy import FAMILIES, REGISTRY, register

    class BoundModel(GenerativeModel):
        event_shape = (2,)

        def __init__(self):
            super().__init__()
            self.w = torch.nn.Parameter(torch.zeros(2))

        def elbo(self, x):
            return -((x - self.w) ** 2).sum(-1)

        def sample(self, n):
            return self.w.detach().expand(self._check_n(n), 2).clone()

    cls = register("latent")(BoundModel)
    yield cls()
    REGISTRY.pop("BoundModel")
    FAMILIES["latent"].members.remove(cls)


@pytest.fixture(autouse=True)
def _seed():
    torch.manual_seed(0)
    yield


def pytest_configure(config):
    gdl.import_all()


#: What the fuzz test (test_fuzz.py) tried on each model: cases, rejected, accepted.
FUZZ_COUNTS: dict[str, dict[str, int]] = {}


def pytest_terminal_summary(terminalreporter):
    if FUZZ_COUNTS:
        terminalreporter.section("bad input fed to every model (test_fuzz.py)")
        for name, c in sorted(FUZZ_COUNTS.items()):
            terminalreporter.write_line(
                f"{name:16} {c['cases']:5} calls: {c['rejected']:4} clear errors, {c['accepted']:4} finite results"
            )
        total = sum(c["cases"] for c in FUZZ_COUNTS.values())
        terminalreporter.write_line(f"{'all models':16} {total:5} calls")
