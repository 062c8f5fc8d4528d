"""E6: un problema más difícil. La regresión de E4 con ruido gaussiano N(0, 0.1) en y.

El código de la práctica con minidl en lugar de tensorflow.keras: solo cambian los imports.

    python examples/e6_noise.py [--epochs 20] [--seed S]
"""
import numpy as np
from sklearn.model_selection import train_test_split
from minidl.models import Sequential
from minidl.layers import Dense
from minidl.optimizers import Adam

from _common import start


def main(argv=None):
    args = start(argv, __doc__, epochs=20)

    # E6
    # Generar datos sintéticos con ruido
    np.random.seed(42)
    x_1_noise = np.random.rand(1000)
    x_2_noise = np.random.rand(1000)
    x_data_noise = np.column_stack((x_1_noise, x_2_noise))
    y_data_noise = x_1_noise + x_2_noise + np.random.normal(0, 0.1, 1000) # Añadir ruido gaussiano

    # Dividir el conjunto de datos en entrenamiento (70%) y prueba (30%)
    x_train_noise, x_test_noise, y_train_noise, y_test_noise = train_test_split(x_data_noise, y_data_noise,
                                                                                  test_size=0.3, random_state=42)

    # Construir y entrenar el modelo
    model_noise = Sequential([
        Dense(64, activation='relu', input_shape=(2,)),
        Dense(1)
    ])
    model_noise.compile(optimizer=Adam(), loss='mse', metrics=['mae'])
    history_noise = model_noise.fit(x_train_noise, y_train_noise, epochs=args.epochs, batch_size=32, validation_split=0.2)

    # Evaluar el modelo
    loss_noise, mae_noise = model_noise.evaluate(x_test_noise, y_test_noise)
    print(f'Pérdida en el conjunto de prueba (con ruido): {loss_noise}')
    print(f'Error absoluto medio en el conjunto de prueba (con ruido): {mae_noise}')

    return {"loss_noise": loss_noise, "mae_noise": mae_noise}


if __name__ == "__main__":
    main()
