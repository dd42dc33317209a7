using DeepTrain.Optim;
using Xunit;

namespace DeepTrain.Tests.Optim;

/// <summary>Schedules against PyTorch's formulas.</summary>
public class ScheduleTests
{
    /// <summary>One-cycle over a single step used to fail with "totalSteps ('1') must be greater than or equal to '2'".</summary>
    [Fact]
    public void OneCycle_OverOneStep_SaysWhatTheRunLacks()
    {
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => ScheduleFactory.Create(new ScheduleOptions("one-cycle"), 0.1f, stepsPerEpoch: 1, epochs: 1));
        Assert.StartsWith("ScheduleOptions.Name = one-cycle needs at least 2 optimizer steps, but this run has 1 (1 epoch(s) of 1 step(s))", e.Message);
        Assert.IsType<OneCycleLr>(ScheduleFactory.Create(new ScheduleOptions("one-cycle"), 0.1f, stepsPerEpoch: 1, epochs: 2));
    }

    [Fact]
    public void MultiStep_DividesAtMilestones()
    {
        var s = new MultiStepLr(0.1f, [32_000, 48_000]);
        Assert.Equal(0.1f, s.LearningRate(0), 6);
        Assert.Equal(0.1f, s.LearningRate(31_999), 6);
        Assert.Equal(0.01f, s.LearningRate(32_000), 6);
        Assert.Equal(0.001f, s.LearningRate(48_000), 6);
    }

    [Fact]
    public void OneCycle_MatchesPyTorchEndpointsAndShape()
    {
        // torch.optim.lr_scheduler.OneCycleLR(max_lr=0.2, total_steps=100): starts at 0.2/25, peaks at step 29
        // (pct_start·T − 1), ends at 0.2/25/1e4; momentum runs 0.95 → 0.85 → 0.95.
        var s = new OneCycleLr(0.2f, 100);
        Assert.Equal(0.008, s.LearningRate(0), 6);
        Assert.Equal(0.2, s.LearningRate(29), 6);
        Assert.Equal(0.2 / 25 / 1e4, s.LearningRate(99), 9);
        Assert.Equal(0.95, s.Momentum(0)!.Value, 6);
        Assert.Equal(0.85, s.Momentum(29)!.Value, 6);
        Assert.Equal(0.95, s.Momentum(99)!.Value, 6);
        // Halfway up the warm-up the cosine is at its midpoint.
        Assert.Equal((0.008 + 0.2) / 2, s.LearningRate(14) , 2);
        for (int i = 1; i < 30; i++) Assert.True(s.LearningRate(i) > s.LearningRate(i - 1));
        for (int i = 30; i < 100; i++) Assert.True(s.LearningRate(i) < s.LearningRate(i - 1));
    }

    [Fact]
    public void InvalidHyperParameters_AreRejectedWithTheRange()
    {
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => new OneCycleLr(0.1f, 100, pctStart: 1.5f));
        Assert.Contains("(0, 1)", e.Message);
        Assert.Throws<ArgumentOutOfRangeException>(() => new MultiStepLr(0.1f, [10], gamma: 0f));
    }
}

/// <summary>The other schedules of torch.optim.lr_scheduler, against their closed forms.</summary>
public class MoreScheduleTests
{
    [Fact]
    public void StepAndExponential()
    {
        var s = new StepLr(1f, 10, 0.5f);
        Assert.Equal(1f, s.LearningRate(9));
        Assert.Equal(0.5f, s.LearningRate(10));
        Assert.Equal(0.25f, s.LearningRate(25));
        var e = new ExponentialLr(2f, 0.9f);
        Assert.Equal(2 * Math.Pow(0.9, 7), e.LearningRate(7), 6);
    }

    [Fact]
    public void Cosine_AndWarmRestarts()
    {
        var c = new CosineLr(1f, 100, 0.1f);
        Assert.Equal(1f, c.LearningRate(0), 6);
        Assert.Equal(0.55f, c.LearningRate(50), 6);
        Assert.Equal(0.1f, c.LearningRate(100), 6);
        Assert.Equal(0.1f, c.LearningRate(150), 6);
        var r = new CosineWarmRestartsLr(1f, 10, 2);
        Assert.Equal(1f, r.LearningRate(0), 6);
        Assert.Equal(1f, r.LearningRate(10), 6);     // restart after T_0
        Assert.Equal(0.5f, r.LearningRate(20), 6);   // halfway through the second period of 20
        Assert.Equal(1f, r.LearningRate(30), 6);     // restart after 10 + 20
    }

    [Fact]
    public void Warmup_RisesLinearly_ThenFollowsTheInnerSchedule()
    {
        var w = new WarmupLr(new ConstantLr(0.4f), 4, startFactor: 0.25f);
        Assert.Equal(0.1f, w.LearningRate(0), 6);
        Assert.Equal(0.25f, w.LearningRate(2), 6);
        Assert.Equal(0.4f, w.LearningRate(4), 6);
        Assert.Equal(0.4f, WarmupLr.ScaleForBatch(0.1f, 1024), 6);
    }
}
