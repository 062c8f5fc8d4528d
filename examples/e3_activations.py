"""E3: la función de activación. E1 con tanh y con sigmoid en la capa oculta en lugar de relu.

El código de la práctica con minidl en lugar de tensorflow.keras: solo cambian los imports.
Como en el cuaderno, E3 usa los datos de E1, así que el script los genera antes.

    python examples/e3_activations.py [--epochs 30] [--seed S]
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

    # E3
    # Construir el modelo con función de activación tanh
    model_tanh = Sequential([
        Dense(64, activation='tanh', input_shape=(2,)),
        Dense(1, activation='sigmoid')
    ])

    # Compilar el modelo
    model_tanh.compile(optimizer=Adam(), loss='binary_crossentropy', metrics=['accuracy'])

    # Entrenar el modelo
    history_tanh = model_tanh.fit(x_train, y_train, epochs=args.epochs, batch_size=32, validation_split=0.2)

    # Evaluar el modelo
    loss_tanh, accuracy_tanh = model_tanh.evaluate(x_test, y_test)
    print(f'Pérdida en el conjunto de prueba (tanh): {loss_tanh}')
    print(f'Precisión en el conjunto de prueba (tanh): {accuracy_tanh}')

    # Construir el modelo con función de activación sigmoid
    model_sigmoid = Sequential([
        Dense(64, activation='sigmoid', input_shape=(2,)),
        Dense(1, activation='sigmoid')
    ])

    # Compilar el modelo
    model_sigmoid.compile(optimizer=Adam(), loss='binary_crossentropy', metrics=['accuracy'])

    # Entrenar el modelo
    history_sigmoid = model_sigmoid.fit(x_train, y_train, epochs=args.epochs, batch_size=32, validation_split=0.2)

    # Evaluar el modelo
    loss_sigmoid, accuracy_sigmoid = model_sigmoid.evaluate(x_test, y_test)
    print(f'Pérdida en el conjunto de prueba (sigmoid): {loss_sigmoid}')
    print(f'Precisión en el conjunto de prueba (sigmoid): {accuracy_sigmoid}')

    return {"loss_tanh": loss_tanh, "accuracy_tanh": accuracy_tanh,
            "loss_sigmoid": loss_sigmoid, "accuracy_sigmoid": accuracy_sigmoid}


if __name__ == "__main__":
    main()
