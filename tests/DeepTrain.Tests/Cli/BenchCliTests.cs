using System.Text.Json;
using System.Text.RegularExpressions;
using DeepTrain.Backends.Cpu;
using DeepTrain.Cli.Commands;
using DeepTrain.Modeling;
using DeepTrain.Interop;
using DeepTrain.Mixed;
using DeepTrain.Zoo;
using Xunit;

namespace DeepTrain.Tests.Cli;

/// <summary><c>deeptrain bench</c> and <c>deeptrain bench-kernels</c>: the figures, the JSON keys gpu_vs_pytorch.sh pairs, the errors.</summary>
[Collection(nameof(ConsoleCollection))]
public class BenchCliTests
{
    private static (int Code, string Out, string Err) Run(params string[] args) => CliRunner.Run(args);

    /// <summary>The one JSON line of a --json run.</summary>
    private static JsonElement Json(string output)
    {
        var lines = output.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        Assert.Single(lines);
        return JsonDocument.Parse(lines[0]).RootElement.Clone();
    }

    /// <summary>The memory plan's peak for the bench's configuration, computed here independently of the command.</summary>
    private static long PlannedPeak(string model, int batch, Precision precision, int stateCopies, Tensors.Layout layout = Tensors.Layout.NCHW)
    {
        var graph = ModelZoo.Create(model);
        using var cpu = new CpuBackend();
        return MemoryReport.For(graph, Planner.Build(graph, batch, training: true, layout, precision), stateCopies, cpu).Peak;
    }

    [Fact]
    public void Json_HasPyTorchsKeys_AndConsistentFigures()
    {
        var (code, output, err) = Run("bench", "--model", "mlp", "--batch-size", "8", "--steps", "5", "--warmup", "1", "--json");
        Assert.True(code == 0, err);
        var j = Json(output);
        // pytorch_gpu_train.py's keys, which gpu_vs_pytorch.sh reads on both sides.
        foreach (var key in new[] { "model", "batch", "input", "precision", "layout", "images_per_s", "ms_per_step", "steps", "warmup", "peak_mem_bytes", "device", "impl" })
            Assert.True(j.TryGetProperty(key, out _), $"missing key {key}");
        Assert.Equal("mlp", j.GetProperty("model").GetString());
        Assert.Equal(8, j.GetProperty("batch").GetInt32());
        Assert.Equal("1x28x28", j.GetProperty("input").GetString());
        Assert.Equal("fp32", j.GetProperty("precision").GetString());
        Assert.Equal("nchw", j.GetProperty("layout").GetString());
        Assert.Equal("sgd", j.GetProperty("optimizer").GetString());
        Assert.Equal(5, j.GetProperty("steps").GetInt32());
        Assert.Equal("host clock", j.GetProperty("timer").GetString());
        Assert.StartsWith("cpu", j.GetProperty("device").GetString());
        Assert.Equal(JsonValueKind.Null, j.GetProperty("loss_scale").ValueKind);
        Assert.Equal(JsonValueKind.Null, j.GetProperty("device_live_bytes").ValueKind);
        double ips = j.GetProperty("images_per_s").GetDouble(), ms = j.GetProperty("ms_per_step").GetDouble();
        double median = j.GetProperty("step_ms_median").GetDouble(), p90 = j.GetProperty("step_ms_p90").GetDouble();
        Assert.True(ips > 0 && ms > 0 && median > 0, output);
        Assert.True(p90 >= median, $"p90 {p90} < median {median}");
        // images/s and ms/step come from the same wall time: batch / (ms / 1000), up to the rounding of both.
        Assert.Equal(8 / (ms / 1000), ips, ips * 0.01);
        Assert.Equal(PlannedPeak("mlp", 8, Precision.Float32, stateCopies: 1), j.GetProperty("peak_mem_bytes").GetInt64());
    }

    [Fact]
    public void Fp16AdamW_RunsTheLossScaler_AndPlansTwoStateCopies()
    {
        var (code, output, err) = Run("bench", "--model", "mlp", "--batch-size", "8", "--steps", "3", "--warmup", "1", "--precision", "fp16", "--optimizer", "adamw", "--json");
        Assert.True(code == 0, err);
        var j = Json(output);
        Assert.Equal("fp16", j.GetProperty("precision").GetString());
        Assert.Equal("adamw", j.GetProperty("optimizer").GetString());
        Assert.StartsWith("dynamic (init 65536", j.GetProperty("loss_scale").GetString());
        long skipped = j.GetProperty("skipped_steps").GetInt64();
        Assert.InRange(skipped, 0, 3);
        Assert.Equal(PlannedPeak("mlp", 8, Precision.Float16, stateCopies: 2), j.GetProperty("peak_mem_bytes").GetInt64());

        var bf16 = Run("bench", "--model", "mlp", "--batch-size", "8", "--steps", "2", "--warmup", "0", "--precision", "bf16", "--layout", "nhwc", "--json");
        Assert.True(bf16.Code == 0, bf16.Err);
        var b = Json(bf16.Out);
        Assert.Equal("bf16", b.GetProperty("precision").GetString());
        Assert.Equal("nhwc", b.GetProperty("layout").GetString());
        Assert.Equal(JsonValueKind.Null, b.GetProperty("loss_scale").ValueKind);   // bf16 needs no scaler, as in training
    }

    [Fact]
    public void Text_KeepsTheImagesPerSecondFigure_TheCpuScriptReads()
    {
        var (code, output, err) = Run("bench", "--model", "mlp", "--batch-size", "4", "--steps", "2", "--warmup", "0");
        Assert.True(code == 0, err);
        // benchmarks/cpu_resnet20_vs_pytorch.sh: sed -E 's/.*: ([0-9.]+) images\/s.*/\1/'
        var m = Regex.Match(output, @".*: ([0-9.]+) images/s");
        Assert.True(m.Success, output);
        Assert.True(double.Parse(m.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture) > 0);
        Assert.Contains("fp32 nchw sgd on cpu", output);
        Assert.Contains("median", output);
        Assert.Contains("p90", output);
    }

    [Fact]
    public void BadOptions_AreRejected_NamingTheValidValues()
    {
        var precision = Run("bench", "--model", "mlp", "--precision", "fp8");
        Assert.Equal(1, precision.Code);
        Assert.Contains("unknown precision 'fp8'; expected one of fp32, fp16, bf16", precision.Err);
        var optimizer = Run("bench", "--model", "mlp", "--optimizer", "lamb");
        Assert.NotEqual(0, optimizer.Code);
        Assert.Contains("lamb", optimizer.Err);
        Assert.Contains("adamw", optimizer.Err);
        var warmup = Run("bench", "--model", "mlp", "--warmup", "-1");
        Assert.Equal(1, warmup.Code);
        Assert.Contains("--warmup must be ≥ 0", warmup.Err);
        var kernels = Run("bench-kernels", "--params", "0");
        Assert.Equal(1, kernels.Code);
        Assert.Contains("--params must be ≥ 1, got 0", kernels.Err);
        var cpu = Run("bench-kernels", "--device", "cpu");
        Assert.Equal(1, cpu.Code);
        Assert.Contains("expected cuda or cuda:N", cpu.Err);
    }

    [Fact]
    public void BenchKernels_FailsWithTheProbesReason_WithoutAGpu_AndMeasuresEveryKernelWithOne()
    {
        var probe = CudaAvailability.Probe();
        var (code, output, err) = Run("bench-kernels", "--params", "100000", "--iters", "3", "--warmup", "1", "--repeats", "3", "--json");
        if (!probe.IsAvailable)
        {
            Assert.Equal(1, code);
            Assert.StartsWith("error: CUDA unavailable: ", err);
            Assert.Contains(probe.Reason, err);
            Assert.Equal("", output);
            return;
        }
        // A GPU: every kernel measured, in GB/s of the bytes it must move, against the copy of the same run.
        Assert.True(code == 0, err);
        var rows = output.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => JsonDocument.Parse(l).RootElement.Clone()).ToArray();
        Assert.Equal(["copy", "adamw_fused", "adamw_fused_fp16_copy", "unscale"], rows.Select(r => r.GetProperty("kernel").GetString()));
        Assert.Equal([32L * 100000, 28L * 100000, 30L * 100000, 8L * 100000], rows.Select(r => r.GetProperty("bytes_per_call").GetInt64()));
        Assert.All(rows, r => Assert.True(r.GetProperty("gb_s").GetDouble() > 0));
        Assert.Equal(1.0, rows[0].GetProperty("fraction_of_copy").GetDouble());
    }

    [Fact]
    public void Quantiles_InterpolateLikeNumpy()
    {
        Assert.Equal(2, StepClock.Median([3, 1, 2]));
        Assert.Equal(2.5, StepClock.Median([4, 1, 3, 2]));
        Assert.Equal(9.1, StepClock.Quantile([10, 9, 8, 7, 6, 5, 4, 3, 2, 1], 0.9), 12);   // numpy.percentile(1..10, 90)
        Assert.Equal(7, StepClock.Quantile([7], 0.9));
        Assert.Throws<ArgumentException>(() => StepClock.Median([]));
        Assert.Throws<ArgumentException>(() => StepClock.Quantile([1], 1.5));
    }
}
