using Xunit;
using DeepTrain.Backends.Cpu;
using DeepTrain.Inference;
using DeepTrain.Layers;
using DeepTrain.Losses;
using DeepTrain.Tests.Infrastructure;
using static DeepTrain.Tests.Inference.InferenceFixtures;

namespace DeepTrain.Tests.Inference;

public sealed class InferenceSessionTests
{
    private static float[] RunAlone(InferenceSession s, float[] input)
    {
        var y = new float[input.Length / Sample * Classes];
        s.Run(input, y);
        return y;
    }

    [Fact]
    public void ConcurrentRunsFromManyThreads_AreBitIdenticalToSequentialRuns()
    {
        using var b = new CpuBackend();
        using var model = Model(b);
        using var session = new InferenceSession(model, new InferenceSessionOptions { MaxBatchSize = 8, MaxConcurrency = 4 });
        var inputs = Enumerable.Range(0, 24).Select(i => Inputs(100 + i, 1 + i % 8)).ToArray();
        var expected = inputs.Select(x => RunAlone(session, x)).ToArray();
        var actual = new float[inputs.Length][];
        Parallel.For(0, 16, new ParallelOptions { MaxDegreeOfParallelism = 16 }, t =>
        {
            for (int round = 0; round < 3; round++)
                for (int i = t % inputs.Length; i < inputs.Length; i += 16)
                {
                    var y = RunAlone(session, inputs[i]);
                    Assert.Equal(expected[i], y);
                    actual[i] = y;
                }
        });
        for (int i = 0; i < inputs.Length; i++) Assert.Equal(expected[i], actual[i]);
    }

    [Fact]
    public void PaddedRequest_GivesTheRowsOfAnUnpaddedRunAtThatPlanSize_AndMatchesTheEvaluationPlan()
    {
        using var b = new CpuBackend();
        using var model = Model(b);
        // Unfused, so the last check can be bit for bit (InferenceFusionTests covers the folded session within its tolerance).
        using var session = new InferenceSession(model, new InferenceSessionOptions { MaxBatchSize = 8, PlanBatchSizes = [1, 8], MaxConcurrency = 1, FuseLayers = false });
        var full = Inputs(5, 8);
        var three = full.AsSpan(0, 3 * Sample).ToArray();
        Assert.Equal(8, session.PlanSizeFor(3));
        var y8 = RunAlone(session, full);
        var y3 = RunAlone(session, three);
        Assert.Equal(y8.AsSpan(0, 3 * Classes).ToArray(), y3);

        // The forward-only plan computes what the ordinary evaluation plan (with its loss) computes at the same size.
        using var plan = model.Compile(8, training: false, new CrossEntropyLoss());
        b.CopyFromHost<float>(full, plan.Input);
        plan.Forward();
        var reference = new float[8 * Classes];
        b.CopyToHost<float>(plan.Output, reference);
        Assert.Equal(reference, y8);
    }

    [Fact]
    public void LongerOutput_GetsTheRequestsRowsAndNothingElse()
    {
        using var b = new CpuBackend();
        using var model = Model(b);
        using var session = new InferenceSession(model, new InferenceSessionOptions { MaxBatchSize = 8 });
        var x = Inputs(4, 3);
        var y = Enumerable.Repeat(-7f, 8 * Classes).ToArray();
        Assert.Equal(3, session.Run(x, y));
        Assert.Equal(RunAlone(session, x), y.AsSpan(0, 3 * Classes).ToArray());
        Assert.All(y.AsSpan(3 * Classes).ToArray(), v => Assert.Equal(-7f, v));
    }

    [Fact]
    public void BadSizes_NameTheArgumentAndTheExpectedSize()
    {
        using var b = new CpuBackend();
        using var model = Model(b);
        using var session = new InferenceSession(model, new InferenceSessionOptions { MaxBatchSize = 8 });
        var e = Assert.Throws<ArgumentException>(() => session.Run(new float[Sample + 1], new float[8]));
        Assert.Equal("input", e.ParamName);
        Assert.Contains("65 floats; expected a positive multiple of 64", e.Message);
        e = Assert.Throws<ArgumentException>(() => session.Run(new float[9 * Sample], new float[9 * Classes]));
        Assert.Equal("input", e.ParamName);
        Assert.Contains("9 samples; expected at most MaxBatchSize (8)", e.Message);
        e = Assert.Throws<ArgumentException>(() => session.Run(new float[2 * Sample], new float[7]));
        Assert.Equal("output", e.ParamName);
        Assert.Contains("expected at least 8 (2 samples × 4 classes)", e.Message);
        Assert.Throws<ArgumentException>(() => session.Run([], new float[4]));
        var o = Assert.Throws<ArgumentException>(() => new InferenceSession(model, new InferenceSessionOptions { MaxBatchSize = 8, PlanBatchSizes = [1, 4] }));
        Assert.Contains("InferenceSessionOptions.PlanBatchSizes ends at 4; expected it to end at MaxBatchSize (8)", o.Message);
    }

    [Fact]
    public void Run_AfterWarmUp_AllocatesNoManagedBytes()
    {
        using var b = new CpuBackend();
        using var model = Model(b);
        using var session = new InferenceSession(model, new InferenceSessionOptions { MaxBatchSize = 8, MaxConcurrency = 2, Output = InferenceOutput.Probabilities });
        var x = Inputs(3, 5);
        Assert.Equal(0, AllocatedPerRun(session, x, new float[5 * Classes]));
    }

    [Fact]
    public void Load_ServesTheCheckpointForwardOnly_WithItsClassNamesAndNormalization()
    {
        string path = Checkpoint();
        using var session = InferenceSession.Load(path, new InferenceSessionOptions { MaxBatchSize = 4, Output = InferenceOutput.Probabilities });
        Assert.False(session.Model.Parameters.HasGradients);
        Assert.Equal(0, session.Model.Parameters.GradBytes);
        Assert.Equal(Names, session.ClassNames);
        Assert.Throws<InvalidOperationException>(() => session.Model.Compile(4, training: true, new CrossEntropyLoss()));

        // The same weights through a model the caller owns give the same bits.
        using var b = new CpuBackend();
        using var model = Model(b);
        using var reference = new InferenceSession(model, new InferenceSessionOptions { MaxBatchSize = 4, Output = InferenceOutput.Probabilities });
        var pixels = Enumerable.Range(0, 2 * Sample).Select(i => (byte)(i * 37)).ToArray();
        var x = new float[2 * Sample];
        session.Normalize(pixels, x);
        Assert.Equal((pixels[1] / 255f - 0.5f) / 0.25f, x[1]);
        var p = RunAlone(session, x);
        Assert.Equal(RunAlone(reference, x), p);
        Assert.Equal(1.0, p.AsSpan(0, Classes).ToArray().Sum(), 5);

        var predictions = session.Predict(x, topK: 3);
        Assert.Equal(2, predictions.Length);
        int best = Array.IndexOf(p, p.AsSpan(0, Classes).ToArray().Max());
        Assert.Equal(best, predictions[0].Best.Index);
        Assert.Equal(Names[best], predictions[0].Best.Name);
        Assert.Equal(3, predictions[0].TopK.Count);
        Assert.True(predictions[0].TopK[0].Probability >= predictions[0].TopK[1].Probability);
    }

    [Fact]
    public void MemoryReport_StatesWhatEachContextAllocates()
    {
        using var b = new CpuBackend();
        using var model = Model(b);
        long before = b.LiveBytes;
        var options = new InferenceSessionOptions { MaxBatchSize = 16, MaxConcurrency = 1 };
        using var session = new InferenceSession(model, options);
        var report = InferenceMemoryReport.For(model.Graph, options);
        // One context exists (no workspace counted without a backend), beside the folded copy of the weights that a session made
        // from a model holds (the report's Weights counts the folded graph's floats; InferenceFusionTests checks that).
        var folded = session.Model.Parameters;
        Assert.Equal(report.ContextBytes + folded.ValueBytes + folded.BufferBytes, b.LiveBytes - before);
        Assert.Equal([1, 8, 16], report.PlanSizes);
        // The convolutions' packed, Winograd-transformed and direct-layout weights are managed arrays, made once: the report counts them all.
        var convs = session.Model.Graph.Nodes.Select(n => n.Layer).OfType<Conv2d>().ToList();
        Assert.Contains(convs, c => c.WinogradWeights is not null);
        Assert.All(convs, c => Assert.NotNull(c.GemmWeights));
        if (DeepTrain.Backends.Cpu.CpuDirectConv.Available) Assert.Contains(convs, c => c.DirectWeights is not null);
        Assert.Equal(convs.Sum(c => c.GemmWeights!.Bytes + (c.WinogradWeights?.Bytes ?? 0) + (c.DirectWeights?.Bytes ?? 0)), report.PreparedWeights);
        Assert.Equal(report.Weights + report.PreparedWeights + report.ContextBytes, report.Total);
    }

    [Fact]
    public async Task RunAsync_Cancelled_ThrowsBeforeRunning_AndDisposedSessionRefusesCalls()
    {
        using var b = new CpuBackend();
        using var model = Model(b);
        var session = new InferenceSession(model, new InferenceSessionOptions { MaxBatchSize = 4 });
        var x = Inputs(1, 2);
        var y = new float[2 * Classes];
        Assert.Equal(2, await session.RunAsync(x, y, TestContext.Current.CancellationToken));
        Assert.Equal(RunAlone(session, x), y);
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => session.RunAsync(x, y, new CancellationToken(canceled: true)));
        session.Dispose();
        Assert.Throws<ObjectDisposedException>(() => session.Run(x, y));
    }
}
