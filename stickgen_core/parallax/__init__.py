"""2.5D parallax augmentation (spec §2, issue 29): multi-view renders of clips with camera poses, the
dataset that reads them, and the image encoder that conditions training on them.

Modules: ``camera`` (seeded orbit/dolly cameras, batched projection), ``render`` (one frame with Pillow),
``writer`` (a dataset into the reference's ``sample_XXXXXX/actor_Y`` layout), ``metadata`` (reading a
root back, checked), ``dataset`` (``MultimodalParallaxDataset``), ``encoder`` (``ImageEncoder``) and
``training`` (clips paired with their renders for ``stickgen train``), ``sheet`` (a contact sheet). Kept import-light: the model
imports ``encoder`` from here.
"""
