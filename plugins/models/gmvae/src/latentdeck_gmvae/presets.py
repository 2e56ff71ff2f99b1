"""The GM-VAE's presets: the specification's plain defaults (which often collapse), and the recipe
that clusters digits without labels."""

from latentdeck import PresetSpec, hookimpl

CLUSTERS = {
    "model": "gmvae", "epochs": 15, "batch_size": 64,
    "model_options": {"pretrain_epochs": 8, "prior_init": "umap_gmm", "qc_hold_to_end": True},
}


@hookimpl
def register_presets():
    return [
        PresetSpec(
            name="gmvae-spec",
            title="GM-VAE — spec defaults (may collapse)",
            description="The Gaussian-mixture VAE exactly as the specification defines it, every option at its "
                        "default. Often every example ends up in one component (mixture collapse): the run page "
                        "then says so, with the numbers and what to try.",
            config={"model": "gmvae", "epochs": 10},
            why={"model": "the GM-VAE with K = 10 components and the plain loss recon + kld_weight (kld_c + kld_z)",
                 "epochs": "long enough to see whether the components stay in use"},
            order=20,
        ),
        PresetSpec(
            name="gmvae-clusters",
            title="GM-VAE — clusters digits",
            description="A GM-VAE whose components follow the digit classes without seeing a label: autoencoder "
                        "pretraining, a prior started from clusters of the pretrained codes, then q(c|x) held "
                        "to the end while the codes and the prior keep training. The loss formula is the plain one "
                        "after pretraining. About 5 minutes on a laptop CPU with mnist-5k.",
            config=CLUSTERS,
            why={
                "model": "the GM-VAE (K = 10)",
                "epochs": "8 pretraining epochs, then 7 with the plain loss and q(c|x) held",
                "batch_size": "smaller batches give more steps per epoch on 4,500 digits",
                "model_options.pretrain_epochs": "train as an autoencoder first (KL weights 0), so the codes "
                                                 "group by shape before any component is fitted",
                "model_options.prior_init": "start each p(z|c) at a cluster of the pretrained codes (a Gaussian "
                                            "mixture on a 5-D UMAP of them) instead of at random",
                "model_options.qc_hold_to_end": "keep q(c|x) as the init taught it while the codes gather around "
                                                "their components; released, it trades about 4 points of test "
                                                "accuracy for a lower kld_c",
            },
            order=30,
        ),
    ]
