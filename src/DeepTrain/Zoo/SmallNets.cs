using DeepTrain.Modeling;
using DeepTrain.Layers;
using DeepTrain.Tensors;

namespace DeepTrain.Zoo;

/// <summary>LeNet-5 as in Caffe's MNIST example, and a small multi-layer perceptron.</summary>
public static class SmallNets
{
    /// <summary>
    /// Caffe's examples/mnist/lenet_train_test.prototxt: conv1 (20, 5×5) → pool1 (max 2×2) → conv2 (50, 5×5)
    /// → pool2 → ip1 (500) → relu1 → ip2 (classes); Xavier weights and zero biases, as its fillers say.
    /// Trained there with batch 64, SGD lr 0.01, momentum 0.9, weight decay 5e-4, "inv" policy, 10k iterations.
    /// </summary>
    public static ModelGraph LeNet5(int inChannels = 1, int classes = 10, int size = 28)
    {
        var g = new ModelGraph("lenet5", Shape.Of(inChannels, size, size));
        var xavier = new Init.XavierUniform();
        var zero = new Init.Constant(0f);   // Caffe's bias_filler { type: "constant" }
        var x = g.Apply("conv1", new Conv2d(inChannels, 20, 5, weightInit: xavier, biasInit: zero), g.Input);
        x = g.Apply("pool1", new MaxPool2d(2, 2), x);
        x = g.Apply("conv2", new Conv2d(20, 50, 5, weightInit: xavier, biasInit: zero), x);
        x = g.Apply("pool2", new MaxPool2d(2, 2), x);
        x = g.Apply("flatten", new Flatten(), x);
        int features = (int)g.InferShapes(1)[x.Id].Elements;
        x = g.Apply("ip1", new Linear(features, 500, weightInit: xavier, biasInit: zero), x);
        x = g.Apply("relu1", new ReLU(), x);
        g.Apply("ip2", new Linear(500, classes, weightInit: xavier, biasInit: zero), x);
        return g;
    }

    /// <summary>
    /// Flatten → (Linear → ReLU) per hidden size → Linear(classes): the hidden-layer experiments of the
    /// course notes (one hidden layer of 100 units by default). Layers are named fc1, fc2, …
    /// </summary>
    public static ModelGraph Mlp(Shape inputShape, int classes = 10, params int[] hidden)
    {
        if (hidden.Length == 0) hidden = [100];
        var g = new ModelGraph("mlp-" + string.Join('-', hidden), inputShape);
        var x = g.Apply("flatten", new Flatten(), g.Input);
        int features = (int)inputShape.Elements, k = 1;
        foreach (int h in hidden)
        {
            ArgumentOutOfRangeException.ThrowIfLessThan(h, 1, nameof(hidden));
            x = g.Apply($"fc{k}", new Linear(features, h), x);
            x = g.Apply($"relu{k}", new ReLU(), x);
            features = h;
            k++;
        }
        g.Apply($"fc{k}", new Linear(features, classes), x);
        return g;
    }
}
