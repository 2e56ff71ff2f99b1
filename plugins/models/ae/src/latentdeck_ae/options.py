"""Options of the supervised autoencoder (kept free of torch so listing plugins stays fast)."""

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

Channels = Annotated[int, Field(ge=1, le=1024)]


class AEOptions(BaseModel):
    """Options of the supervised autoencoder (defaults are the specification's)."""

    # strict: numbers must be JSON numbers (no "8" or true), floats finite
    model_config = ConfigDict(extra="forbid", strict=True, allow_inf_nan=False)

    latent_dim: int = Field(16, ge=2, le=512, description="size of the latent vector z")
    class_weight: float = Field(1.0, ge=0.0, le=1000.0, description="weight of the cross-entropy term, at most 1000 "
                                                                     "(more only swamps the reconstruction)")
    channels: tuple[Channels, Channels] = Field(
        (32, 64), strict=False, description="conv channels at 14x14 and 7x7, each 1..1024")
    head_hidden: int = Field(64, ge=0, le=4096, description="hidden units of the classifier on z (0 = linear)")
    dropout: float = Field(0.2, ge=0.0, lt=1.0, allow_inf_nan=False, description="dropout inside the classifier head")
    batch_norm: bool = Field(True, description="batch normalisation in the encoder and decoder")
