using DeepTrain.Data;
using DeepTrain.Layers;
using DeepTrain.Modeling;
using DeepTrain.Onnx;
using DeepTrain.Onnx.Proto;
using DeepTrain.Tensors;
using DeepTrain.Tests.Checkpoints;
using DeepTrain.Tests.Infrastructure;
using DeepTrain.Training;
using DeepTrain.Zoo;
using Xunit;
using static DeepTrain.Tests.Onnx.OnnxRuntimeRunner;

namespace DeepTrain.Tests.Onnx;

/// <summary>The exported file itself: it parses back, says what it is, maps the layers outside the zoo, and refuses what it cannot map.</summary>
public class OnnxModelFileTests
{
    [Fact]
    public void Protobuf_RoundTrips_ThroughTheGeneratedClasses()
    {
        using var backend = Cpu();
        using var model = new Model(ModelZoo.Create(new ModelSpec("resnet20", 3, 10, 8)), backend, seed: 1);
        var norm = new Normalization([0.5f, 0.4f, 0.3f], [0.2f, 0.25f, 0.3f]);
        var proto = OnnxExporter.ToProto(model, new OnnxExportOptions { Normalization = norm, ClassNames = [.. Enumerable.Range(0, 10).Select(i => $"c{i}")] });
        var bytes = OnnxExportTests.Export(model, new OnnxExportOptions { Normalization = norm, ClassNames = [.. Enumerable.Range(0, 10).Select(i => $"c{i}")] });

        var back = ModelProto.Parser.ParseFrom(bytes);
        Assert.Equal(proto, back);   // every field, weights included
        Assert.Equal(8, back.IrVersion);
        Assert.Equal(17, Assert.Single(back.OpsetImport).Version);
        Assert.Equal(OnnxExporter.InputName, Assert.Single(back.Graph.Input).Name);
        Assert.Equal(OnnxExporter.OutputName, Assert.Single(back.Graph.Output).Name);
        Assert.Equal([OnnxExporter.BatchDimension, "3", "8", "8"], back.Graph.Input[0].Type.TensorType.Shape.Dim.Select(d => d.HasDimParam ? d.DimParam : d.DimValue.ToString()));
        var ops = back.Graph.Node.Select(n => n.OpType).ToList();
        Assert.Equal(["Sub", "Div", "Conv", "Relu"], ops.Take(4));   // normalisation first, conv1 with bn1 folded in
        Assert.DoesNotContain("BatchNormalization", ops);
        Assert.Equal(2, ops.Count(o => o == "Pad"));   // the two option-A shortcuts (16→32, 32→64)
        Assert.Equal(2, ops.Count(o => o == "Slice"));
        Assert.Equal(["GlobalAveragePool", "Flatten", "Gemm"], ops.TakeLast(3));
        var meta = back.MetadataProps.ToDictionary(p => p.Key, p => p.Value);
        Assert.Equal("resnet20", meta["deeptrain.model"]);
        Assert.Equal("folded", meta["deeptrain.batch_norm"]);
        Assert.Contains("\"mean\":[0.5,0.4,0.3]", meta["deeptrain.normalization"]);
        Assert.StartsWith("[\"c0\",", meta["deeptrain.class_names"]);
    }

    /// <summary>Layers no built-in model uses: biased, grouped and dilated conv, BatchNorm1d, every activation, PReLU, average pools, Concat, Dropout.</summary>
    [Fact]
    public void LayersOutsideTheZoo_MatchDeepTrainInOnnxRuntime()
    {
        var g = new ModelGraph("kitchen-sink", Shape.Of(4, 9, 9));
        var a = g.Apply("conv_a", new Conv2d(4, 8, 3, padding: 2, dilation: 2, groups: 2), g.Input);
        a = g.Apply("bn_a", BatchNorm2d.Create(8), a);
        a = g.Apply("leaky", new LeakyReLU(0.1f), a);
        var b = g.Apply("conv_b", new Conv2d(4, 6, 1), g.Input);
        b = g.Apply("prelu_b", new PReLU(6), b);
        var c = g.Apply("cat", new Concat(), a, b);
        c = g.Apply("avg_in", new AvgPool2d(3, 2, 1), c);
        var d = g.Apply("sig", new Sigmoid(), c);
        var e = g.Apply("avg_ex", new AvgPool2d(3, 1, 1, countIncludePad: false), d);
        e = g.Apply("drop", new Dropout(0.3f), e);
        e = g.Apply("pool", new GlobalAvgPool2d(), e);
        e = g.Apply("flatten", new Flatten(), e);
        e = g.Apply("fc1", new Linear(14, 12), e);
        e = g.Apply("bn1d", BatchNorm1d.Create(12), e);
        e = g.Apply("tanh", new Tanh(), e);
        e = g.Apply("prelu1", new PReLU(), e);
        g.Apply("fc2", new Linear(12, 5, bias: false), e);
        using var backend = Cpu();
        using var model = new Model(g, backend, seed: 4);
        Perturb(model, seed: 6, batch => Pixels(batch * 4 * 81, seed: 100));
        using var session = Session(OnnxExportTests.Export(model, new OnnxExportOptions()));
        foreach (int batch in new[] { 1, 4 })
        {
            var x = Pixels(batch * 4 * 81, seed: batch);
            Tolerance.AssertClose(Forward(model, x), Run(session, x, [batch, 4, 9, 9]), 1e-5, 1e-5, $"kitchen-sink logits at batch {batch}");
        }
    }

    [Fact]
    public void ExportedCheckpoint_TakesPixels_AndNormalisesInTheGraph()
    {
        using var dir = new TempFolder();
        using var backend = Cpu();
        using var model = new Model(ModelZoo.Create(new ModelSpec("lenet5", 1, 10, 28)), backend, seed: 2);
        var norm = new Normalization([0.2860f], [0.3530f]);
        ModelCheckpoint.Save(model, dir.File("model.safetensors"), description: new CheckpointDescription(norm, [.. Enumerable.Range(0, 10).Select(i => $"k{i}")]));
        OnnxExporter.ExportCheckpoint(dir.File("model.safetensors"), dir.File("model.onnx"));
        using var session = Session(File.ReadAllBytes(dir.File("model.onnx")));
        var pixels = Pixels(2 * 784, seed: 5);
        var normalized = new float[pixels.Length];
        for (int i = 0; i < 2; i++) norm.ApplyUnit(pixels.AsSpan(i * 784, 784), normalized.AsSpan(i * 784, 784));
        Tolerance.AssertClose(Forward(model, normalized), Run(session, pixels, [2, 1, 28, 28]), 1e-4, 1e-4, "lenet5 from its checkpoint");
        Assert.Equal("[\"k0\",\"k1\",\"k2\",\"k3\",\"k4\",\"k5\",\"k6\",\"k7\",\"k8\",\"k9\"]", session.ModelMetadata.CustomMetadataMap["deeptrain.class_names"]);
        Assert.Equal(["model.onnx", "model.safetensors"], dir.Files());   // no temporary file left behind
    }

    [Fact]
    public void UnsupportedLayer_IsRefused_NamingItAndItsKind()
    {
        var g = new ModelGraph("odd", Shape.Of(2, 4, 4));
        var x = g.Apply("conv", new Conv2d(2, 2, 3, padding: 1), g.Input);
        g.Apply("block.square", new Square(), x);
        using var backend = Cpu();
        using var model = new Model(g, backend);
        var e = Assert.Throws<OnnxExportException>(() => OnnxExporter.Export(model, new MemoryStream()));
        Assert.Equal("block.square", e.LayerName);
        Assert.Equal("Square", e.LayerKind);
        Assert.StartsWith("Square 'block.square': no ONNX mapping for this layer kind", e.Message);
        Assert.Contains("Conv2d, BatchNorm2d", e.Message);
    }

    [Theory]
    [InlineData(16)]
    [InlineData(22)]
    public void OpsetOutsideTheSupportedRange_IsAnArgumentError(int opset)
    {
        using var backend = Cpu();
        using var model = new Model(ModelZoo.Create("mlp"), backend);
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => OnnxExporter.Export(model, new MemoryStream(), new OnnxExportOptions { Opset = opset }));
        Assert.Contains("OnnxExportOptions.Opset must be in [17, 21]", e.Message);
    }

    [Fact]
    public void NewestOpset_LoadsAndMatchesToo()
    {
        using var backend = Cpu();
        using var model = new Model(ModelZoo.Create(new ModelSpec("resnet20", 3, 10, 8)), backend, seed: 8);
        var bytes = OnnxExportTests.Export(model, new OnnxExportOptions { Opset = OnnxExportOptions.MaxOpset });
        Assert.Equal(10, ModelProto.Parser.ParseFrom(bytes).IrVersion);
        using var session = Session(bytes);
        var x = Pixels(2 * 192, seed: 3);
        Tolerance.AssertClose(Forward(model, x), Run(session, x, [2, 3, 8, 8]), 1e-4, 1e-4, "resnet20 at opset 21");
    }

    /// <summary>A layer kind the exporter does not know (its forward is a copy; only its kind matters here).</summary>
    private sealed class Square : Layer
    {
        public override Shape OutputShape(ReadOnlySpan<Shape> inputs) => inputs[0];
        public override void Forward(Step s) => s.Backend.Copy(s.In(0), s.Out());
        public override void Backward(Step s) { }
    }
}
