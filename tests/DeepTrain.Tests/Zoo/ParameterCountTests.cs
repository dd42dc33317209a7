using DeepTrain.Modeling;
using DeepTrain.Zoo;
using Xunit;

namespace DeepTrain.Tests.Zoo;

/// <summary>Parameter counts of the papers' models, exactly, and as the ResNet paper's table rounds them.</summary>
public class ParameterCountTests
{
    // He et al. 2015, Table 6: 0.27M, 0.46M, 0.66M, 0.85M, 1.7M, 19.4M (3 input channels, option A, 10 classes).
    [Theory]
    [InlineData(20, 269_722, 0.27)]
    [InlineData(32, 464_154, 0.46)]
    [InlineData(44, 658_586, 0.66)]
    [InlineData(56, 853_018, 0.85)]
    [InlineData(110, 1_727_962, 1.7)]
    [InlineData(1202, 19_421_274, 19.4)]
    public void CifarResNet_OptionA_MatchesPaperTable(int depth, long exact, double paperMillions)
    {
        var (trainable, _) = Model.Count(ResNetCifar.Build(depth));
        Assert.Equal(exact, trainable);
        double m = trainable / 1e6;
        // The table prints two significant digits below 1M and one decimal above.
        double rounded = m < 1 ? Math.Round(m, 2) : Math.Round(m, 1);
        Assert.Equal(paperMillions, rounded, 6);
    }

    [Fact]
    public void CifarResNet20_BuffersAreCountedSeparately()
    {
        var (_, buffers) = Model.Count(ResNetCifar.Build(20));
        // 19 batch norms over 16 + 6·16 + 6·32 + 6·64 = 688 channels, two statistics each.
        Assert.Equal(2 * 688, buffers);
    }

    [Theory]
    [InlineData(18, 11_689_512)]
    [InlineData(34, 21_797_672)]
    [InlineData(50, 25_557_032)]
    public void ImageNetResNet_MatchesTorchvision(int depth, long exact)
        => Assert.Equal(exact, Model.Count(ResNetImageNet.Build(depth)).Trainable);

    [Fact]
    public void LeNet5_MatchesCaffe()
        => Assert.Equal(431_080, Model.Count(SmallNets.LeNet5()).Trainable);

    [Fact]
    public void OptionB_AddsProjectionParameters()
    {
        long a = Model.Count(ResNetCifar.Build(20)).Trainable, b = Model.Count(ResNetCifar.Build(20, shortcut: ShortcutOption.B)).Trainable;
        // Two projections: 16→32 and 32→64 (1×1 conv + BN γ, β).
        Assert.Equal(a + 16 * 32 + 2 * 32 + 32 * 64 + 2 * 64, b);
    }

    [Fact]
    public void UnknownModel_ListsTheValidOnes()
    {
        var e = Assert.Throws<ArgumentException>(() => ModelZoo.Create("resnet21"));
        Assert.Contains("resnet21", e.Message);
        Assert.Contains("resnet20", e.Message);
        Assert.Contains("lenet5", e.Message);
    }

    [Fact]
    public void CheckpointNames_FollowPyTorchStateDict()
    {
        var names = ResNetCifar.Build(20).Nodes.SelectMany(n => n.Layer.Parameters.Select(p => $"{n.Layer.Name}.{p.Name}")).ToList();
        Assert.Contains("conv1.weight", names);
        Assert.Contains("layer1.0.bn1.weight", names);
        Assert.Contains("layer3.2.conv2.weight", names);
        Assert.Contains("linear.bias", names);
    }
}
