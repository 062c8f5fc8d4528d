"""Clasificador de dígitos MNIST: Dense(512, relu) -> Dense(10, softmax) (Práctica 1).

El código de la práctica con minidl en lugar de tensorflow.keras: los tres modos de definir el
modelo (Sequential con lista, Sequential().add y funcional), compile, fit, predict de las 20
primeras imágenes de test y evaluate. Dos cambios además de los imports, para que funcione con
cualquiera de los tres conjuntos de imágenes:
  - las imágenes se cargan con load_images(--dataset): MNIST por defecto; sin conexión y sin
    copia local, Fashion-MNIST y, si tampoco está, los dígitos 8x8 de scikit-learn;
  - 28 * 28 pasa a ser el tamaño de las imágenes cargadas (784 en MNIST, 64 en digits).

    python examples/mnist_classifier.py [--dataset mnist|fashion_mnist|digits]
                                        [--epochs 5] [--seed S]
"""
from minidl import layers, Sequential, Model

from _common import load_images, start


def main(argv=None):
    args = start(argv, __doc__, epochs=5, image_dataset=True)

    #### Cargando el conjunto de datos MNIST
    (train_images, train_labels), (test_images, test_labels), dataset = load_images(args.dataset)

    train_images = train_images.reshape((len(train_images), -1)) # Aplanamiento
    train_images = train_images.astype("float32") / 255 # Normalización + tipo flotante
    test_images = test_images.reshape((len(test_images), -1)) # Aplanamiento
    test_images = test_images.astype("float32") / 255 # Normalización + tipo flotante

    # Definición secuencial (opción 1)
    model = Sequential([
        layers.Dense(512, activation="relu", input_shape=(train_images.shape[1], )), # capa oculta
        layers.Dense(10, activation="softmax") # capa de salida
    ])
    model.summary()

    # Definición secuencial (opción 2)
    model = Sequential()
    model.add(layers.Dense(512, activation="relu", input_shape=(train_images.shape[1], ))) # capa oculta
    model.add(layers.Dense(10, activation="softmax")) # capa de salida
    model.summary()

    # Definición funcional
    input_layer = layers.Input(shape=(train_images.shape[1], )) # Capa de entrada
    hidden_layer = layers.Dense(512, activation="relu")(input_layer) # Capa oculta
    output_layer = layers.Dense(10, activation="softmax")(hidden_layer) # Capa de salida
    model = Model(inputs=input_layer, outputs=output_layer)
    model.summary()

    model.compile(
        optimizer='rmsprop',           # Optimizador
        loss='sparse_categorical_crossentropy', # Función de pérdida
        metrics=['accuracy']          # Métrica
    )

    history = model.fit(
        train_images, train_labels, # datos y etiquetas de entrenamiento
        epochs=args.epochs,         # Número de épocas
        batch_size=64              # Tamaño del lote
    )

    test_digits = test_images[0:20]
    predictions = model.predict(test_digits) # probabilidades de clase (one hot encoding)
    predictions = predictions.argmax(axis=-1) # clase de mayor probabilidad

    for i, pred in enumerate(predictions):
        print(f"Etiqueta: {test_labels[i]}, Predicción: {pred}")

    test_loss, test_acc = model.evaluate(test_images, test_labels)
    print(f"test_acc: {test_acc:.4f}")

    return {"dataset": dataset, "test_loss": test_loss, "test_acc": test_acc,
            "predictions": predictions, "labels": test_labels[:20]}


if __name__ == "__main__":
    main()
