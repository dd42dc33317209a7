using Xunit;
using System.Diagnostics;
using DeepTrain.Backends.Cpu;
using DeepTrain.Inference;
using static DeepTrain.Tests.Inference.InferenceFixtures;

namespace DeepTrain.Tests.Inference;

public sealed class DynamicBatchingTests
{
    [Fact]
    public async Task ConcurrentCallers_EachGetExactlyTheirRows_BitIdenticalToRunningAloneAtThePlanSize()
    {
        using var b = new CpuBackend();
        using var model = Model(b);
        // One plan size, so a request run alone and the same request inside a coalesced batch both run at 8.
        var plain = new InferenceSessionOptions { MaxBatchSize = 8, PlanBatchSizes = [8], MaxConcurrency = 1 };
        using var alone = new InferenceSession(model, plain);
        using var batched = new InferenceSession(model, plain with
        {
            DynamicBatching = new DynamicBatchingOptions { MaxDelay = TimeSpan.FromMilliseconds(20) },
        });
        var inputs = Enumerable.Range(0, 64).Select(i => Inputs(200 + i, 1 + i % 3)).ToArray();
        var expected = inputs.Select(x => { var y = new float[x.Length / Sample * Classes]; alone.Run(x, y); return y; }).ToArray();
        var tasks = inputs.Select((x, i) => Task.Run(async () =>
        {
            var y = new float[x.Length / Sample * Classes];
            if (i % 2 == 0) batched.Run(x, y);
            else await batched.RunAsync(x, y, TestContext.Current.CancellationToken);
            return y;
        })).ToArray();
        var actual = await Task.WhenAll(tasks);
        for (int i = 0; i < inputs.Length; i++) Assert.Equal(expected[i], actual[i]);
    }

    [Fact]
    public void LoneRequest_WaitsForTheDelay_NotLonger()
    {
        using var b = new CpuBackend();
        using var model = Model(b);
        var delay = TimeSpan.FromMilliseconds(300);
        using var session = new InferenceSession(model, new InferenceSessionOptions
        {
            MaxBatchSize = 8, MaxConcurrency = 1, DynamicBatching = new DynamicBatchingOptions { MaxDelay = delay },
        });
        var x = Inputs(9, 1);
        var y = new float[Classes];
        session.Run(x, y);   // warm-up
        var clock = Stopwatch.StartNew();
        session.Run(x, y);
        // Generous bounds (not a benchmark): it waited for companions (the batch was not full), and then ran rather than
        // waiting for more; the upper bound only catches a batcher that waits for a full batch or a second period.
        Assert.InRange(clock.Elapsed, delay * 0.9, delay * 1.9 + TimeSpan.FromSeconds(1.5));
    }
}
