"""E2: el tamaño de la red. E1 con 32 neuronas ocultas en lugar de 64.

El código de la práctica con minidl en lugar de tensorflow.keras: solo cambian los imports.
Como en el cuaderno, E2 usa los datos de E1 y evalúa también su modelo de 64 neuronas (`model`),
así que el script ejecuta antes esa parte de E1.

    python examples/e2_width.py [--epochs 30] [--seed S]
"""
import numpy as np
from sklearn.model_selection import train_test_split
from minidl.models import Sequential
from minidl.layers import Dense
from minidl.optimizers import Adam

from _common import start


def main(argv=None):
    args = start(argv, __doc__, epochs=30)

    # E1
    # Generar datos sintéticos
    np.random.seed(42)
    x_data = np.random.rand(1000, 2)
    y_data = (np.sum(x_data, axis=1) > 1).astype(int)

    # Dividir el conjunto de datos en entrenamiento (80%) y prueba (20%)
    x_train, x_test, y_train, y_test = train_test_split(x_data, y_data, test_size=0.2, random_state=42)

    # Construir el modelo
    model = Sequential([
        Dense(64, activation="relu", input_shape=(2,)),
        Dense(1, activation="sigmoid")
    ])

    # Compilar el modelo
    model.compile(optimizer=Adam(), loss="binary_crossentropy", metrics=["accuracy"])

    # Entrenar el modelo
    history = model.fit(x_train, y_train, epochs=args.epochs, batch_size=32, validation_split=0.2)

    # E2
    # Construir el modelo con una capa oculta de 32 neuronas
    model_32 = Sequential([
        Dense(32, activation="relu", input_shape=(2,)),
        Dense(1, activation="sigmoid")
    ])

    # Compilar el modelo
    model_32.compile(optimizer=Adam(), loss="binary_crossentropy", metrics=["accuracy"])

    # Entrenar el modelo
    history_32 = model_32.fit(x_train, y_train, epochs=args.epochs, batch_size=32, validation_split=0.2)

    # Evaluar el modelo
    loss_32, accuracy_32 = model_32.evaluate(x_test, y_test)
    loss, accuracy = model.evaluate(x_test, y_test)
    print(f"Pérdida en el conjunto de prueba (32 neuronas): {loss_32}")
    print(f"Precisión en el conjunto de prueba (32 neuronas): {accuracy_32}")

    return {"loss_32": loss_32, "accuracy_32": accuracy_32, "loss": loss, "accuracy": accuracy}


if __name__ == "__main__":
    main()
