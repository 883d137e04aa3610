"""Pretrained weights: the table of published files, the download cache, the file readers and
the converters, in one place.

Bottom up (each imports only those above it in this list, and `registry`):
- `store`: the cache folder, the mirror and offline switches, verified atomic downloads, and the
  converted `.weights.h5` cache.
- `table`: one frozen row per published weights file (model, tag, publisher, URL, hash, size,
  accuracy, evaluation transform, preprocessing, licence); `rows(model, tag, publisher=,
  file=)` asks it, `resolve` turns a `weights=` tag into a row; `register_weights` (rows kept in
  the store's folder) / `list_weights`.
- `hub`: timm's rows from the Hugging Face Hub (`weights="hf://timm/resnet50.a1_in1k"`).
- `torch_files`: torch / safetensors / npz checkpoints read as numpy, without torch.
- `converters`: the registry of the PyTorch-side checkpoint converters (`torch_convert`
  registers them); `applications_copy`: keras.applications' weights copied into ours by layer.
- `loading`: weights into built models (`load_row`, `.weights.h5`); the model constructors load
  through it. `transfer`: weights carried over to a changed model (a new classifier).
- `presets`: a folder (`save_preset`) holding a model's weights, config, classes, transforms,
  measured accuracy, model card and SHA-256s; `weights=` loads it by path, `file://` or
  `hf://owner/repo[@revision]`.
- `argument`: a constructor's `weights=` read in one place (`resolve_weights`: None, a tag, a
  preset, a checkpoint or a weights file), for every constructor.
- above the models: `torch_convert` (torchvision / timm state_dicts -> our models,
  `from_torchvision`; it registers its converters with `converters`), `keras_applications`
  (`from_keras_applications`) and `prefetch` (files fetched ahead, for an offline machine).

This `__init__` imports nothing, so that the models can import the low modules without
importing the converters that build models.
"""
