"""Graders of the readers' "build it yourself" exercises, one module per chapter's idea.

Each ``check_*`` function calls the reader's implementation on fixed inputs, compares it with the
package's reference, and either prints a one-line pass or raises :class:`ExerciseError` with the
reason: which input, what was expected, what came back, and a hint that names the mistake. A
stub that still raises ``NotImplementedError`` fails with the stub's own hint. The chapters
import them from here: ``from stylegan_tutorial.exercises import check_fade_in``.
"""

from stylegan_tutorial.exercises._common import ExerciseError, check_loss
from stylegan_tutorial.exercises.ablation import check_apply_ablation
from stylegan_tutorial.exercises.adain import check_adain
from stylegan_tutorial.exercises.fade_in import check_fade_in
from stylegan_tutorial.exercises.frechet import check_frechet_distance
from stylegan_tutorial.exercises.gan_losses import check_d_logistic_loss, check_nonsaturating_loss
from stylegan_tutorial.exercises.kl_divergence import check_kl_divergence
from stylegan_tutorial.exercises.mapping_network import check_mapping_network
from stylegan_tutorial.exercises.noise_injection import check_noise_injection, noise_epilogue_reference
from stylegan_tutorial.exercises.pixel_gaussian import check_pixel_gaussian
from stylegan_tutorial.exercises.projection import check_projection
from stylegan_tutorial.exercises.style_mixing import check_style_mixing
from stylegan_tutorial.exercises.training_step import check_d_loss_r1, check_ema_update
from stylegan_tutorial.exercises.truncation import check_truncation

__all__ = [
    "ExerciseError", "check_loss",
    "check_pixel_gaussian",  # chapter 1
    "check_kl_divergence",  # chapter 2
    "check_nonsaturating_loss", "check_d_logistic_loss",  # chapter 3
    "check_fade_in",  # chapter 4
    "check_mapping_network",  # chapter 5
    "check_adain",  # chapter 6
    "check_noise_injection", "noise_epilogue_reference",  # chapter 7
    "check_style_mixing",  # chapter 8
    "check_truncation",  # chapter 9
    "check_ema_update", "check_d_loss_r1",  # chapter 10
    "check_frechet_distance",  # chapter 11
    "check_apply_ablation",  # chapter 12
    "check_projection",  # chapter 13
]
