r"""Score-based and diffusion models (chapter 8).

* :mod:`gdl.diffusion.schedules`: noise schedules (linear, cosine) and their closed forms.
* :mod:`gdl.diffusion.ddpm`: DDPM with its variational bound on the discrete likelihood, DDIM
  sampling and a probability-flow likelihood estimate.
* :mod:`gdl.diffusion.guided`: a label-conditioned DDPM sampled with classifier-free guidance.
* :mod:`gdl.diffusion.latent`: text to image through a CLIP's embeddings, by latent diffusion
  (chapter 13) or by a prior from text to image embeddings and a decoder.
* :mod:`gdl.diffusion.ncsn`: noise-conditional score networks trained by denoising score
  matching, sampled by annealed Langevin dynamics.
* :mod:`gdl.diffusion.sde`: the continuous-time view, :class:`ScoreSDE` with the :class:`VPSDE`
  (matched to a DDPM schedule) and the :class:`VESDE`, reverse-SDE and probability-flow samplers.
"""

from .ddpm import DDPM
from .guided import GuidedDDPM, VectorGuidedDDPM
from .latent import DiffusionPrior, LatentDiffusion
from .ncsn import NCSN, annealed_langevin, denoising_score_matching, geometric_sigmas
from .schedules import NoiseSchedule, cosine_betas, linear_betas
from .sde import VESDE, VPSDE, ScoreSDE

__all__: list[str] = [
    "DDPM", "GuidedDDPM", "NoiseSchedule", "linear_betas", "cosine_betas",
    "NCSN", "annealed_langevin", "denoising_score_matching", "geometric_sigmas",
    "ScoreSDE", "VPSDE", "VESDE",
    "VectorGuidedDDPM", "LatentDiffusion", "DiffusionPrior",
]
