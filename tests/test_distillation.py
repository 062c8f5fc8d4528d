"""keras.io's knowledge distillation (examples/vision/knowledge_distillation.py), run with
only the imports changed, against live Keras.

Its Distiller overrides `compile` and `compute_loss` (not `train_step`): Keras's own
train_step then calls the override (Trainer._compute_loss), and the distillation loss
KLDivergence(softmax(teacher / T), softmax(student / T)) is differentiated through both
arguments: the teacher is called inside compute_loss, on the tape, and is trained too.

Tolerance rtol 1e-5 on History and evaluate: the same float32 arithmetic, summed in another
order by TensorFlow's kernels (the convolutions' and the KL divergence's sums), over two epochs.
"""
import keras
import numpy as np

import minidl


def distiller_class(lib):
    ops = lib.ops

    class Distiller(lib.Model):
        def __init__(self, student, teacher):
            super().__init__()
            self.teacher = teacher
            self.student = student

        def compile(self, optimizer, metrics, student_loss_fn, distillation_loss_fn,
                    alpha=0.1, temperature=3):
            super().compile(optimizer=optimizer, metrics=metrics)
            self.student_loss_fn = student_loss_fn
            self.distillation_loss_fn = distillation_loss_fn
            self.alpha = alpha
            self.temperature = temperature

        def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None,
                         allow_empty=False):
            teacher_pred = self.teacher(x, training=False)
            student_loss = self.student_loss_fn(y, y_pred)
            distillation_loss = self.distillation_loss_fn(
                ops.softmax(teacher_pred / self.temperature, axis=1),
                ops.softmax(y_pred / self.temperature, axis=1),
            ) * (self.temperature**2)
            return self.alpha * student_loss + (1 - self.alpha) * distillation_loss

        def call(self, x):
            return self.student(x)

    return Distiller


def convnet(lib, filters, name):
    layers = lib.layers
    return lib.Sequential([lib.Input(shape=(8, 8, 1)),
                           layers.Conv2D(filters, (3, 3), strides=(2, 2), padding="same"),
                           layers.LeakyReLU(negative_slope=0.2), layers.Flatten(),
                           layers.Dense(10)], name=name)


def distill(lib, teacher_weights, student_weights, x, y):
    teacher, student = convnet(lib, 8, "teacher"), convnet(lib, 4, "student")
    teacher.set_weights(teacher_weights)
    student.set_weights(student_weights)
    distiller = distiller_class(lib)(student=student, teacher=teacher)
    distiller.compile(optimizer=lib.optimizers.Adam(),
                      metrics=[lib.metrics.SparseCategoricalAccuracy()],
                      student_loss_fn=lib.losses.SparseCategoricalCrossentropy(from_logits=True),
                      distillation_loss_fn=lib.losses.KLDivergence(), alpha=0.1, temperature=10)
    history = distiller.fit(x, y, epochs=2, batch_size=16, shuffle=False, verbose=0).history
    return history, distiller.evaluate(x, y, verbose=0), teacher.get_weights()


def test_the_distiller_fits_as_keras_and_trains_its_teacher_as_keras():
    keras.utils.set_random_seed(0)
    teacher_weights = convnet(keras, 8, "teacher").get_weights()
    student_weights = convnet(keras, 4, "student").get_weights()
    rng = np.random.default_rng(0)
    x, y = rng.random((48, 8, 8, 1)).astype(np.float32), rng.integers(0, 10, 48)
    theirs, keras_eval, keras_teacher = distill(keras, teacher_weights, student_weights, x, y)
    ours, minidl_eval, minidl_teacher = distill(minidl, teacher_weights, student_weights, x, y)
    assert sorted(ours) == sorted(theirs)
    for key in theirs:
        np.testing.assert_allclose(ours[key], theirs[key], rtol=1e-5, err_msg=key)
    np.testing.assert_allclose(minidl_eval, keras_eval, rtol=1e-5)
    moved = [not np.array_equal(a, b) for a, b in zip(keras_teacher, teacher_weights)]
    assert any(moved)  # Keras trains the teacher through the distillation loss's target
    for ours_w, theirs_w in zip(minidl_teacher, keras_teacher):
        np.testing.assert_allclose(ours_w, theirs_w, rtol=1e-5, atol=1e-6)


def test_a_loss_of_your_own_in_a_train_step_leaves_no_tape_open():
    """A Loss of your own (written with ops) called in a custom train_step opens the step's
    tape again while it is open; closing it must give back the tape before (none), step
    after step: before, the second step found the first one's tape still open."""
    class SquaredError(minidl.losses.Loss):
        def call(self, y_true, y_pred):
            return minidl.ops.mean(minidl.ops.square(y_true - y_pred), axis=-1)

    class Model(minidl.Model):
        def train_step(self, data):
            x, y = data
            with minidl.GradientTape() as tape:
                loss = SquaredError()(y, self(x, training=True))
            gradients = tape.gradient(loss, self.trainable_variables)
            self.optimizer.apply(gradients, self.trainable_variables)
            return {"loss": loss}

    inputs = minidl.Input((3,))
    model = Model(inputs, minidl.layers.Dense(1)(inputs))
    model.compile(optimizer="sgd")
    x = np.ones((8, 3), np.float32)
    history = model.fit(x, np.zeros((8, 1), np.float32), batch_size=2, epochs=2, verbose=0)
    assert len(history.history["loss"]) == 2
    assert minidl.tape.active_tape() is None
