"""Training's end-of-run export writes `export.export_model`'s layout: the SavedModel in
`<export_dir>/<version>/` (the only folders TF Serving loads) with the `.keras` file beside it,
never a `<export_dir>/saved_model` folder."""

import keras
import numpy as np
import tensorflow as tf

from keras_deepnets import export, training


def _outputs(folder, images):
    loaded = tf.saved_model.load(str(folder))
    return sorted(loaded.signatures), loaded.signatures["serving_default"](
        images=tf.constant(images))["predictions"].numpy()


def test_training_exports_in_export_models_layout(tmp_path):
    export_dir = tmp_path / "export"
    result = training.train(model="resnet20", use_synthetic_data=True, synthetic_examples=32,
                            batch_size=16, epochs=1, eval_every=0, backup_steps=0, verbose=0,
                            tensorboard=False, model_dir=str(tmp_path / "run"),
                            export_dir=str(export_dir))
    assert result.export == {"keras": str(export_dir / "resnet20.keras"),
                             "saved_model": str(export_dir / "1")}
    assert (export_dir / "1" / "saved_model.pb").is_file()
    assert not (export_dir / "saved_model").exists()
    assert sorted(p.name for p in export_dir.iterdir()) == ["1", "resnet20.keras"]

    # export_model on the same model numbers on in the same folder and writes the same SavedModel.
    model = keras.models.load_model(result.export["keras"])
    assert export.export_model(model, export_dir) == {"saved_model": str(export_dir / "2")}
    images = np.random.default_rng(0).normal(size=(4, 32, 32, 3)).astype(np.float32)
    names, trained = _outputs(export_dir / "1", images)
    names_again, again = _outputs(export_dir / "2", images)
    assert names == names_again == ["serving_default"]  # synthetic data: no CIFAR mean image
    np.testing.assert_array_equal(trained, again)
    np.testing.assert_allclose(trained, result.model.predict(images, verbose=0), atol=1e-5)
