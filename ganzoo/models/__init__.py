"""Model families. Adding a model = one new module + one import line here."""

from ganzoo.models import (
    conditional,  # noqa: F401
    dcgan,  # noqa: F401
    infogan,  # noqa: F401
    resnet,  # noqa: F401
    semi_supervised,  # noqa: F401
    vanilla,  # noqa: F401
    wgan,  # noqa: F401
)
from ganzoo.models.base import GAN  # noqa: F401
