using DeepTrain.Modeling;
using DeepTrain.Layers;
using DeepTrain.Tensors;

namespace DeepTrain.Zoo;

/// <summary>How a residual block matches dimensions when the channel count grows.</summary>
public enum ShortcutOption
{
    /// <summary>He et al. 2015 option A: subsample and zero-pad channels; no parameters.</summary>
    A,
    /// <summary>Option B: a 1×1 convolution with stride (a projection) followed by batch norm.</summary>
    B,
}

/// <summary>
/// The CIFAR-10 ResNets of He et al. 2015 ("Deep Residual Learning for Image Recognition", §4.2):
/// a 3×3 convolution with 16 filters, then three stages of n basic blocks with 16, 32, 64 filters on
/// feature maps of size s, s/2, s/4 (the first block of stages 2 and 3 has stride 2), global average
/// pooling and a fully connected layer: 6n + 2 weighted layers. Names follow the common PyTorch
/// reproduction (conv1, bn1, layer1.0.conv1, …, linear) so checkpoints line up with its state_dict.
/// Weights use He (Kaiming) normal initialisation, as that reproduction does.
/// </summary>
public static class ResNetCifar
{
    /// <summary>Builds ResNet-(6n+2).</summary>
    /// <param name="depth">20, 32, 44, 56, 110, 1202 or any 6n + 2.</param>
    /// <param name="inChannels">Image channels (3 for CIFAR-10, 1 for Fashion-MNIST).</param>
    /// <param name="classes">Output classes.</param>
    /// <param name="size">Image height and width.</param>
    /// <param name="shortcut">Option A or B.</param>
    /// <param name="preActivation">He et al. 2016's pre-activation blocks (BN → ReLU → conv) instead.</param>
    /// <exception cref="ArgumentOutOfRangeException">The depth is not 6n + 2.</exception>
    public static ModelGraph Build(int depth, int inChannels = 3, int classes = 10, int size = 32, ShortcutOption shortcut = ShortcutOption.A, bool preActivation = false)
    {
        if (depth < 8 || (depth - 2) % 6 != 0) throw new ArgumentOutOfRangeException(nameof(depth), depth, "CIFAR ResNet depth must be 6n + 2 (20, 32, 44, 56, 110, 1202)");
        int n = (depth - 2) / 6;
        string name = $"{(preActivation ? "preact-" : "")}resnet{depth}{(shortcut == ShortcutOption.B ? "-b" : "")}";
        var g = new ModelGraph(name, Shape.Of(inChannels, size, size));
        var he = new Init.KaimingNormal();
        var x = g.Apply("conv1", new Conv2d(inChannels, 16, 3, padding: 1, bias: false, weightInit: he), g.Input);
        if (!preActivation)
        {
            x = g.Apply("bn1", BatchNorm2d.Create(16), x);
            x = g.Apply("relu", new ReLU(), x);
        }
        int channels = 16;
        int[] widths = [16, 32, 64];
        for (int stage = 0; stage < 3; stage++)
        {
            using var _ = g.Scope($"layer{stage + 1}");
            for (int b = 0; b < n; b++)
            {
                using var __ = g.Scope(b.ToString(System.Globalization.CultureInfo.InvariantCulture));
                int stride = stage > 0 && b == 0 ? 2 : 1;
                x = preActivation ? PreActBlock(g, x, channels, widths[stage], stride, shortcut, he)
                                  : BasicBlock(g, x, channels, widths[stage], stride, shortcut, he);
                channels = widths[stage];
            }
        }
        if (preActivation)
        {
            x = g.Apply("bn", BatchNorm2d.Create(channels), x);
            x = g.Apply("relu", new ReLU(), x);
        }
        x = g.Apply("avgpool", new GlobalAvgPool2d(), x);
        x = g.Apply("flatten", new Flatten(), x);
        g.Apply("linear", new Linear(channels, classes, weightInit: he), x);
        return g;
    }

    /// <summary>conv3×3 → BN → ReLU → conv3×3 → BN, plus the shortcut, then ReLU.</summary>
    private static Node BasicBlock(ModelGraph g, Node x, int inC, int outC, int stride, ShortcutOption option, Init init)
    {
        var y = g.Apply("conv1", new Conv2d(inC, outC, 3, stride, 1, bias: false, weightInit: init), x);
        y = g.Apply("bn1", BatchNorm2d.Create(outC), y);
        y = g.Apply("relu1", new ReLU(), y);
        y = g.Apply("conv2", new Conv2d(outC, outC, 3, 1, 1, bias: false, weightInit: init), y);
        y = g.Apply("bn2", BatchNorm2d.Create(outC), y);
        var s = Shortcut(g, x, inC, outC, stride, option, init);
        y = g.Apply("add", new Add(), y, s);
        return g.Apply("relu2", new ReLU(), y);
    }

    /// <summary>He et al. 2016: BN → ReLU → conv3×3 → BN → ReLU → conv3×3, plus the shortcut (from the pre-activated input when it projects).</summary>
    private static Node PreActBlock(ModelGraph g, Node x, int inC, int outC, int stride, ShortcutOption option, Init init)
    {
        var a = g.Apply("bn1", BatchNorm2d.Create(inC), x);
        a = g.Apply("relu1", new ReLU(), a);
        bool project = stride != 1 || inC != outC;
        var s = !project ? x : Shortcut(g, option == ShortcutOption.B ? a : x, inC, outC, stride, option, init);
        var y = g.Apply("conv1", new Conv2d(inC, outC, 3, stride, 1, bias: false, weightInit: init), a);
        y = g.Apply("bn2", BatchNorm2d.Create(outC), y);
        y = g.Apply("relu2", new ReLU(), y);
        y = g.Apply("conv2", new Conv2d(outC, outC, 3, 1, 1, bias: false, weightInit: init), y);
        return g.Apply("add", new Add(), y, s);
    }

    private static Node Shortcut(ModelGraph g, Node x, int inC, int outC, int stride, ShortcutOption option, Init init)
    {
        if (stride == 1 && inC == outC) return x;
        if (option == ShortcutOption.A) return g.Apply("shortcut", new ShortcutA(inC, outC, stride), x);
        using var _ = g.Scope("shortcut");
        var s = g.Apply("0", new Conv2d(inC, outC, 1, stride, 0, bias: false, weightInit: init), x);
        return g.Apply("1", BatchNorm2d.Create(outC), s);
    }
}
