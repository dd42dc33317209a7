using DeepTrain.Modeling;
using DeepTrain.Tensors;

namespace DeepTrain.Zoo;

/// <summary>A built-in model: its name, what it is, and its builder for (input channels, classes, image size).</summary>
public sealed record ModelInfo(string Name, string Description, int DefaultChannels, int DefaultClasses, int DefaultSize, Func<int, int, int, ModelGraph> Build)
{
    /// <summary>The learning rate and schedule this model trains with unless the caller gives its own.</summary>
    public TrainingDefaults Training { get; init; } = TrainingDefaults.ResNet;
}

/// <summary>Every built-in model by name.</summary>
public static class ModelZoo
{
    private static readonly ModelInfo[] s_models = BuildCatalog();

    /// <summary>The built-in models in display order.</summary>
    public static IReadOnlyList<ModelInfo> All => s_models;

    /// <summary>Builds model <paramref name="name"/> (case-insensitive).</summary>
    /// <exception cref="ArgumentException">Unknown name; the message lists the valid ones.</exception>
    public static ModelGraph Create(string name, int? inChannels = null, int? classes = null, int? size = null)
    {
        var info = Find(name);
        return Create(new ModelSpec(info.Name, inChannels ?? info.DefaultChannels, classes ?? info.DefaultClasses, size ?? info.DefaultSize));
    }

    /// <summary>Builds <paramref name="spec"/>; the graph's <see cref="ModelGraph.Spec"/> records it, so a checkpoint can say how to rebuild it.</summary>
    /// <exception cref="ArgumentNullException"><paramref name="spec"/> is null.</exception>
    /// <exception cref="ArgumentException">Unknown name; the message lists the valid ones.</exception>
    /// <exception cref="Layers.LayerShapeException">The model's layers do not fit these arguments (an image too small for its pooling, …).</exception>
    public static ModelGraph Create(ModelSpec spec)
    {
        ArgumentNullException.ThrowIfNull(spec);
        var info = Find(spec.Name);
        var graph = info.Build(spec.InChannels, spec.Classes, spec.Size);
        graph.Spec = spec with { Name = info.Name };
        return graph;
    }

    /// <summary>Looks up a model.</summary>
    /// <exception cref="ArgumentException">Unknown name; the message lists the valid ones.</exception>
    public static ModelInfo Find(string name)
        => s_models.FirstOrDefault(m => string.Equals(m.Name, name, StringComparison.OrdinalIgnoreCase))
           ?? throw new ArgumentException($"unknown model '{name}'; valid models: {string.Join(", ", s_models.Select(m => m.Name))}", nameof(name));

    private static ModelInfo[] BuildCatalog()
    {
        var list = new List<ModelInfo>();
        foreach (int d in new[] { 20, 32, 44, 56, 110, 1202 })
        {
            int depth = d;
            list.Add(new($"resnet{d}", $"CIFAR ResNet-{d} (He et al. 2015 §4.2), option-A shortcuts", 3, 10, 32, (c, k, s) => ResNetCifar.Build(depth, c, k, s)));
            list.Add(new($"resnet{d}-b", $"CIFAR ResNet-{d}, option-B (1×1 projection) shortcuts", 3, 10, 32, (c, k, s) => ResNetCifar.Build(depth, c, k, s, ShortcutOption.B)));
        }
        foreach (int d in new[] { 20, 56, 110 })
        {
            int depth = d;
            list.Add(new($"preact-resnet{d}", $"pre-activation CIFAR ResNet-{d} (He et al. 2016)", 3, 10, 32, (c, k, s) => ResNetCifar.Build(depth, c, k, s, ShortcutOption.B, preActivation: true)));
        }
        foreach (int d in new[] { 18, 34, 50 })
        {
            int depth = d;
            list.Add(new($"resnet{d}", $"ImageNet ResNet-{d} (torchvision layout)", 3, 1000, 224, (c, k, s) => ResNetImageNet.Build(depth, c, k, s)));
        }
        list.Add(new("lenet5", "LeNet-5 as in Caffe's MNIST example", 1, 10, 28, SmallNets.LeNet5) { Training = TrainingDefaults.LeNet });
        list.Add(new("mlp", "multi-layer perceptron, one hidden layer of 100 units", 1, 10, 28, (c, k, s) => SmallNets.Mlp(Shape.Of(c, s, s), k, 100)) { Training = TrainingDefaults.Mlp });
        return list.ToArray();
    }
}
