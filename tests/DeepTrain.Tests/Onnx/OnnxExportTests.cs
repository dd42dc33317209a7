using DeepTrain.Data;
using DeepTrain.Modeling;
using DeepTrain.Onnx;
using DeepTrain.Tests.Infrastructure;
using DeepTrain.Zoo;
using Xunit;
using static DeepTrain.Tests.Onnx.OnnxRuntimeRunner;

namespace DeepTrain.Tests.Onnx;

/// <summary>
/// Every built-in model, exported and run by ONNX Runtime, gives DeepTrain's evaluation-plan logits at two batch sizes.
/// Tolerance: |Δ| ≤ 1e-4 + 1e-4·|y|. Both sides are fp32; they differ by summation order (im2col GEMM against ORT's
/// kernels), the folded batch norm (rounded once from double, against DeepTrain's separate fp32 BN) and Div against
/// DeepTrain's (x − m)/s. Batch norms get non-trivial statistics first, so folding is exercised.
/// </summary>
public class OnnxExportTests
{
    private const double Atol = 1e-4, Rtol = 1e-4;
    private static readonly int[] Batches = [1, 3];

    public static TheoryData<string> ZooModels()
    {
        var data = new TheoryData<string>();
        foreach (var m in ModelZoo.All) data.Add(m.Name);
        return data;
    }

    /// <summary>Small inputs keep the suite fast: the CIFAR nets at 8×8 (their last stage at 2×2), the ImageNet nets at 32×32 (1×1).</summary>
    internal static ModelSpec SmallSpec(string name)
    {
        var info = ModelZoo.Find(name);
        int size = info.DefaultSize switch { 224 => 32, 32 => 8, var s => s };
        return new ModelSpec(info.Name, info.DefaultChannels, info.DefaultClasses, size);
    }

    [Theory]
    [MemberData(nameof(ZooModels))]
    public void BuiltInModel_RunByOnnxRuntime_MatchesDeepTrainLogits(string name)
    {
        var spec = SmallSpec(name);
        using var backend = Cpu();
        using var model = new Model(ModelZoo.Create(spec), backend, seed: 7);
        var norm = new Normalization([.. Enumerable.Range(0, spec.InChannels).Select(c => 0.4f + 0.05f * c)], [.. Enumerable.Range(0, spec.InChannels).Select(c => 0.2f + 0.03f * c)]);
        int sample = (int)spec.InputShape.Elements;
        float[] Normalized(float[] pixels)
        {
            var x = new float[pixels.Length];
            for (int i = 0; i < pixels.Length / sample; i++) norm.ApplyUnit(pixels.AsSpan(i * sample, sample), x.AsSpan(i * sample, sample));
            return x;
        }
        Perturb(model, seed: 11, batch => Normalized(Pixels(batch * sample, seed: 100)));
        var bytes = Export(model, new OnnxExportOptions { Normalization = norm });
        using var session = Session(bytes);

        AssertSignature(session, spec);
        foreach (int batch in Batches)
        {
            var pixels = Pixels(batch * sample, seed: batch);
            var expected = Forward(model, Normalized(pixels));
            var actual = Run(session, pixels, [batch, spec.InChannels, spec.Size, spec.Size]);
            Tolerance.AssertClose(expected, actual, Atol, Rtol, $"{name} logits at batch {batch}");
        }
    }

    [Theory]
    [InlineData("resnet20")]
    [InlineData("preact-resnet20")]
    [InlineData("resnet18")]
    public void UnfoldedBatchNorm_AndNoNormalisation_MatchesToo(string name)
    {
        var spec = SmallSpec(name);
        using var backend = Cpu();
        using var model = new Model(ModelZoo.Create(spec), backend, seed: 3);
        int sample = (int)spec.InputShape.Elements;
        Perturb(model, seed: 5, batch => Pixels(batch * sample, seed: 100));
        var bytes = Export(model, new OnnxExportOptions { FoldBatchNorm = false });
        var proto = DeepTrain.Onnx.Proto.ModelProto.Parser.ParseFrom(bytes);
        Assert.Equal(model.Graph.Nodes.Count(n => n.Layer is DeepTrain.Layers.BatchNorm), proto.Graph.Node.Count(n => n.OpType == "BatchNormalization"));
        using var session = Session(bytes);
        var x = Pixels(2 * sample, seed: 9);   // fed as it is: the graph holds no normalisation
        Tolerance.AssertClose(Forward(model, x), Run(session, x, [2, spec.InChannels, spec.Size, spec.Size]), Atol, Rtol, $"{name} logits, batch norm unfolded");
    }

    /// <summary>Input and output names, element type and shapes with the symbolic batch dimension.</summary>
    private static void AssertSignature(Microsoft.ML.OnnxRuntime.InferenceSession session, ModelSpec spec)
    {
        var input = Assert.Single(session.InputMetadata);
        Assert.Equal(OnnxExporter.InputName, input.Key);
        Assert.Equal(typeof(float), input.Value.ElementType);
        Assert.Equal([-1, spec.InChannels, spec.Size, spec.Size], input.Value.Dimensions);
        Assert.Equal(OnnxExporter.BatchDimension, input.Value.SymbolicDimensions[0]);
        var output = Assert.Single(session.OutputMetadata);
        Assert.Equal(OnnxExporter.OutputName, output.Key);
        Assert.Equal([-1, spec.Classes], output.Value.Dimensions);
        Assert.Equal(OnnxExporter.BatchDimension, output.Value.SymbolicDimensions[0]);
    }

    internal static byte[] Export(Model model, OnnxExportOptions options)
    {
        using var ms = new MemoryStream();
        OnnxExporter.Export(model, ms, options);
        return ms.ToArray();
    }
}
