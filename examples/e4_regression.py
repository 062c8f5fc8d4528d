"""E4: regresión de la suma x1 + x2. Dense(64, relu) -> Dense(1), Adam, mse y mae.

El código de la práctica con minidl en lugar de tensorflow.keras: solo cambian los imports.

    python examples/e4_regression.py [--epochs 20] [--seed S]
"""
import numpy as np
from sklearn.model_selection import train_test_split
from minidl.models import Sequential
from minidl.layers import Dense
from minidl.optimizers import Adam

from _common import start


def main(argv=None):
    args = start(argv, __doc__, epochs=20)

    # E4
    # Generar datos sintéticos
    np.random.seed(42)
    x_1 = np.random.rand(1000)
    x_2 = np.random.rand(1000)
    x_data = np.column_stack((x_1, x_2))
    y_data = x_1 + x_2

    # Dividir el conjunto de datos en entrenamiento (70%) y prueba (30%)
    x_train, x_test, y_train, y_test = train_test_split(x_data, y_data, test_size=0.3, random_state=42)

    # Construir el modelo
    model = Sequential([
        Dense(64, activation='relu', input_shape=(2,)),
        Dense(1)
    ])

    # Compilar el modelo
    model.compile(optimizer=Adam(), loss='mse', metrics=['mae'])

    # Entrenar el modelo
    history = model.fit(x_train, y_train, epochs=args.epochs, batch_size=32, validation_split=0.2)

    # Evaluar el modelo
    loss, mae = model.evaluate(x_test, y_test)
    print(f"Pérdida en el conjunto de prueba: {loss}")
    print(f"Error absoluto medio en el conjunto de prueba: {mae}")

    # Nuevas muestras para predicción
    x_sample = np.array([[0.3, 0.7], [0.5, 0.5]])

    # Realizar predicciones
    predicciones = model.predict(x_sample)

    # Mostrar resultados
    for i, sample in enumerate(x_sample):
        print(f"Entrada: {sample} → Probabilidad: {predicciones[i][0]:.2f} → Valor esperado: {np.sum(sample):.2f}")

    return {"loss": loss, "mae": mae, "predicciones": predicciones[:, 0], "history": history.history}


if __name__ == "__main__":
    main()
