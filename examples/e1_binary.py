"""E1: clasificación binaria, ¿es x1 + x2 > 1? Dense(64, relu) -> Dense(1, sigmoid), Adam.

El código de la práctica con minidl en lugar de tensorflow.keras: solo cambian los imports.

    python examples/e1_binary.py [--epochs 30] [--seed S]
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

    loss, accuracy = model.evaluate(x_test, y_test)
    print(f"Pérdida en el conjunto de prueba: {loss}")
    print(f"Precisión en el conjunto de prueba: {accuracy}")

    # Nuevas pruebas para predicción
    x_sample = np.array([[0.6, 0.6], [0.3, 0.2]])

    # Realizar predicciones
    probabilidades = model.predict(x_sample)
    clases = (probabilidades > 0.5).astype(int)

    # Mostrar resultados
    for i, sample in enumerate(x_sample):
        print(f"Entrada: {sample} → Probabilidad: {probabilidades[i][0]:.2f} → Clase: {clases[i][0]}")

    return {"loss": loss, "accuracy": accuracy, "probabilidades": probabilidades[:, 0],
            "clases": clases[:, 0], "history": history.history}


if __name__ == "__main__":
    main()
