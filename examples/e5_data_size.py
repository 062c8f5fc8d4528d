"""E5: el tamaño del conjunto de datos. La regresión de E4 con 500 y con 2000 muestras.

El código de la práctica con minidl en lugar de tensorflow.keras: solo cambian los imports.
La celda de 2000 muestras valida con validation_data=(x_test_large, y_test_large), como
está escrita (el registro impreso en la práctica corresponde a validation_split=0.2).

    python examples/e5_data_size.py [--epochs 20] [--seed S]
"""
import numpy as np
from sklearn.model_selection import train_test_split
from minidl.models import Sequential
from minidl.layers import Dense
from minidl.optimizers import Adam

from _common import start


def main(argv=None):
    args = start(argv, __doc__, epochs=20)

    # E5
    # Generar datos sintéticos más pequeños
    np.random.seed(42)
    x_1_small = np.random.rand(500)
    x_2_small = np.random.rand(500)
    x_data_small = np.column_stack((x_1_small, x_2_small))
    y_data_small = x_1_small + x_2_small

    # Dividir el conjunto de datos en entrenamiento (70%) y prueba (30%)
    x_train_small, x_test_small, y_train_small, y_test_small = train_test_split(x_data_small, y_data_small,
                                                                                  test_size=0.3,
                                                                                  random_state=42)

    # Construir y entrenar el modelo
    model_small = Sequential([
        Dense(64, activation='relu', input_shape=(2,)),
        Dense(1)
    ])
    model_small.compile(optimizer=Adam(), loss='mse', metrics=['mae'])
    history_small = model_small.fit(x_train_small, y_train_small, epochs=args.epochs, batch_size=32, validation_split=0.2)

    # Evaluar el modelo
    loss_small, mae_small = model_small.evaluate(x_test_small, y_test_small)
    print(f"Pérdida en el conjunto de prueba (500 muestras): {loss_small}")
    print(f"Error absoluto medio en el conjunto de prueba (500 muestras): {mae_small}")

    # Generar datos sintéticos más grandes
    np.random.seed(42)
    x_1_large = np.random.rand(2000)
    x_2_large = np.random.rand(2000)
    x_data_large = np.column_stack((x_1_large, x_2_large))
    y_data_large = x_1_large + x_2_large

    # Dividir el conjunto de datos en entrenamiento (70%) y prueba (30%)
    x_train_large, x_test_large, y_train_large, y_test_large = train_test_split(x_data_large, y_data_large,
                                                                                  test_size=0.3, random_state=42)

    # Construir y entrenar el modelo
    model_large = Sequential([
        Dense(64, activation='relu', input_shape=(2,)),
        Dense(1)
    ])
    model_large.compile(optimizer=Adam(), loss='mse', metrics=['mae'])
    history_large = model_large.fit(x_train_large, y_train_large, epochs=args.epochs, batch_size=32, validation_data=(x_test_large, y_test_large))

    # Evaluar el modelo
    loss_large, mae_large = model_large.evaluate(x_test_large, y_test_large)
    print(f'Pérdida en el conjunto de prueba (2000 muestras): {loss_large}')
    print(f'Error absoluto medio en el conjunto de prueba (2000 muestras): {mae_large}')

    return {"loss_small": loss_small, "mae_small": mae_small,
            "loss_large": loss_large, "mae_large": mae_large}


if __name__ == "__main__":
    main()
