using DeepTrain.Modeling;
using DeepTrain.Layers;
using DeepTrain.Tensors;

namespace DeepTrain.Zoo;

/// <summary>
/// The ImageNet ResNets of He et al. 2015 in torchvision's layout and names (conv1, bn1, maxpool,
/// layer1…layer4, avgpool, fc; projection shortcuts as downsample.0/.1; ResNet-50's stride on the 3×3
/// convolution, "v1.5"). Convolutions use Kaiming normal (fan-out, ReLU) initialisation as torchvision does.
/// </summary>
public static class ResNetImageNet
{
    /// <summary>Builds ResNet-18, 34 or 50.</summary>
    /// <exception cref="ArgumentOutOfRangeException">Another depth.</exception>
    public static ModelGraph Build(int depth, int inChannels = 3, int classes = 1000, int size = 224)
    {
        (int[] blocks, bool bottleneck) = depth switch
        {
            18 => (new[] { 2, 2, 2, 2 }, false),
            34 => (new[] { 3, 4, 6, 3 }, false),
            50 => (new[] { 3, 4, 6, 3 }, true),
            _ => throw new ArgumentOutOfRangeException(nameof(depth), depth, "ImageNet ResNet depth must be 18, 34 or 50"),
        };
        var g = new ModelGraph($"resnet{depth}", Shape.Of(inChannels, size, size));
        var init = new Init.KaimingNormal(FanOut: true);
        var x = g.Apply("conv1", new Conv2d(inChannels, 64, 7, 2, 3, bias: false, weightInit: init), g.Input);
        x = g.Apply("bn1", BatchNorm2d.Create(64), x);
        x = g.Apply("relu", new ReLU(), x);
        x = g.Apply("maxpool", new MaxPool2d(3, 2, 1), x);
        int inC = 64, expansion = bottleneck ? 4 : 1;
        for (int stage = 0; stage < 4; stage++)
        {
            using var _ = g.Scope($"layer{stage + 1}");
            int width = 64 << stage;
            for (int b = 0; b < blocks[stage]; b++)
            {
                using var __ = g.Scope(b.ToString(System.Globalization.CultureInfo.InvariantCulture));
                int stride = stage > 0 && b == 0 ? 2 : 1;
                x = bottleneck ? Bottleneck(g, x, inC, width, stride, init) : Basic(g, x, inC, width, stride, init);
                inC = width * expansion;
            }
        }
        x = g.Apply("avgpool", new GlobalAvgPool2d(), x);
        x = g.Apply("flatten", new Flatten(), x);
        g.Apply("fc", new Linear(inC, classes), x);
        return g;
    }

    private static Node Basic(ModelGraph g, Node x, int inC, int width, int stride, Init init)
    {
        var y = g.Apply("conv1", new Conv2d(inC, width, 3, stride, 1, bias: false, weightInit: init), x);
        y = g.Apply("bn1", BatchNorm2d.Create(width), y);
        y = g.Apply("relu1", new ReLU(), y);
        y = g.Apply("conv2", new Conv2d(width, width, 3, 1, 1, bias: false, weightInit: init), y);
        y = g.Apply("bn2", BatchNorm2d.Create(width), y);
        y = g.Apply("add", new Add(), y, Downsample(g, x, inC, width, stride, init));
        return g.Apply("relu2", new ReLU(), y);
    }

    private static Node Bottleneck(ModelGraph g, Node x, int inC, int width, int stride, Init init)
    {
        int outC = width * 4;
        var y = g.Apply("conv1", new Conv2d(inC, width, 1, bias: false, weightInit: init), x);
        y = g.Apply("bn1", BatchNorm2d.Create(width), y);
        y = g.Apply("relu1", new ReLU(), y);
        y = g.Apply("conv2", new Conv2d(width, width, 3, stride, 1, bias: false, weightInit: init), y);
        y = g.Apply("bn2", BatchNorm2d.Create(width), y);
        y = g.Apply("relu2", new ReLU(), y);
        y = g.Apply("conv3", new Conv2d(width, outC, 1, bias: false, weightInit: init), y);
        y = g.Apply("bn3", BatchNorm2d.Create(outC), y);
        y = g.Apply("add", new Add(), y, Downsample(g, x, inC, outC, stride, init));
        return g.Apply("relu3", new ReLU(), y);
    }

    private static Node Downsample(ModelGraph g, Node x, int inC, int outC, int stride, Init init)
    {
        if (stride == 1 && inC == outC) return x;
        using var _ = g.Scope("downsample");
        var s = g.Apply("0", new Conv2d(inC, outC, 1, stride, bias: false, weightInit: init), x);
        return g.Apply("1", BatchNorm2d.Create(outC), s);
    }
}
