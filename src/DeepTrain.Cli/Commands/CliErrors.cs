using System.Text.RegularExpressions;

namespace DeepTrain.Cli.Commands;

/// <summary>
/// Turns the engine's expected failures (bad model, bad data, bad checkpoint, bad shape) into one line on
/// stderr and exit code 1; anything unexpected keeps its stack trace. <c>--verbose</c> or <c>DEEPTRAIN_DEBUG=1</c> adds the
/// stack trace of an expected failure too, for a bug report.
/// </summary>
internal static partial class CliErrors
{
    /// <summary>The environment variable that, set to 1, shows stack traces as <c>--verbose</c> does.</summary>
    internal const string DebugVariable = "DEEPTRAIN_DEBUG";

    /// <summary>Whether an expected failure's stack trace follows its <c>error:</c> line (set per command line by <c>Program.Main</c>).</summary>
    internal static bool ShowStackTrace { get; set; }

    /// <summary>Prints a <c>warning:</c> line for a library warning, in the command's words.</summary>
    public static void Warn(string message) => Console.Error.WriteLine($"warning: {ToFlags(message)}");

    /// <summary>Runs <paramref name="body"/>, reporting expected failures as "error: …".</summary>
    public static int Run(Func<int> body)
    {
        try
        {
            return body();
        }
        catch (Exception e) when (IsExpected(e))
        {
            // ArgumentException appends " (Parameter 'x')" to its message: the text already names the argument.
            string message = e is ArgumentException { ParamName: { } p } ? e.Message.Replace($" (Parameter '{p}')", "") : e.Message;
            Console.Error.WriteLine($"error: {ToFlags(message)}");
            if (ShowStackTrace) Console.Error.WriteLine(e);
            return 1;
        }
    }

    /// <summary>
    /// The engine's messages name API properties (<c>FitOptions.ValidationSamples</c>); a command-line user knows them as
    /// flags (<c>--val-split</c>). "Type.Property = value" becomes "--flag value".
    /// </summary>
    internal static string ToFlags(string message) => ApiName().Replace(message, m =>
        s_flags.TryGetValue(m.Groups[1].Value, out var flag) ? (m.Groups[2].Success ? flag + " " : flag) : m.Value);

    [GeneratedRegex(@"\b((?:FitOptions|OptimizerOptions|ScheduleOptions|AugmentationOptions|OnnxExportOptions|Trainer)\.\w+)( = )?")]
    private static partial Regex ApiName();

    private static readonly Dictionary<string, string> s_flags = new()
    {
        ["OnnxExportOptions.Opset"] = "--opset", ["OnnxExportOptions.FoldBatchNorm"] = "--no-fold-bn",
        ["FitOptions.Epochs"] = "--epochs", ["FitOptions.BatchSize"] = "--batch-size", ["FitOptions.EvalBatchSize"] = "--eval-batch-size",
        ["FitOptions.Seed"] = "--seed", ["FitOptions.AccumulationSteps"] = "--accumulate", ["FitOptions.ValidationSamples"] = "--val-split",
        ["FitOptions.EarlyStoppingPatience"] = "--early-stop", ["FitOptions.PreciseBatchNormBatches"] = "--precise-bn",
        ["FitOptions.CumulativeBatchNorm"] = "--bn-average cumulative", ["FitOptions.OverfitBatches"] = "--overfit-batches", ["FitOptions.Layout"] = "--layout",
        ["FitOptions.Precision"] = "--precision", ["FitOptions.LossScaling"] = "--loss-scale", ["FitOptions.ClipGradNorm"] = "--clip-grad-norm",
        ["FitOptions.SyncEvery"] = "--log-every", ["FitOptions.StatisticsEvery"] = "--stats-every", ["FitOptions.InitFrom"] = "--init-from",
        ["FitOptions.ResumeFrom"] = "--resume", ["DistributedOptions.BucketBytes"] = "--bucket-mb", ["DistributedOptions.Timeout"] = "--collective-timeout", ["FitOptions.OutputDirectory"] = "--out", ["FitOptions.Overwrite"] = "--overwrite",
        ["OptimizerOptions.Name"] = "--optimizer", ["OptimizerOptions.LearningRate"] = "--lr", ["OptimizerOptions.Momentum"] = "--momentum",
        ["OptimizerOptions.WeightDecay"] = "--weight-decay", ["OptimizerOptions.Nesterov"] = "--nesterov", ["OptimizerOptions.MomentumForm"] = "--momentum-form",
        ["OptimizerOptions.L1"] = "--l1", ["OptimizerOptions.L2"] = "--l2",
        ["ScheduleOptions.Name"] = "--schedule", ["ScheduleOptions.WarmupEpochs"] = "--warmup-epochs", ["ScheduleOptions.CycleMomentum"] = "--no-cycle-momentum",
        ["AugmentationOptions.Padding"] = "--augment", ["AugmentationOptions.Brightness"] = "--color-jitter", ["AugmentationOptions.Contrast"] = "--color-jitter",
        ["AugmentationOptions.Saturation"] = "--color-jitter", ["AugmentationOptions.Degrees"] = "--rotate", ["AugmentationOptions.Translate"] = "--translate",
        ["AugmentationOptions.ErasingProbability"] = "--random-erasing", ["AugmentationOptions.CutMixAlpha"] = "--cutmix", ["AugmentationOptions.CutMixProbability"] = "--cutmix",
        ["Trainer.ClipGradNorm"] = "--clip-grad-norm", ["Trainer.SyncEvery"] = "--log-every",
    };

    /// <summary>
    /// Failures caused by the user's input or environment, reported without a stack trace: the engine's own
    /// (<see cref="DeepTrainException"/>: data, checkpoints, shapes, memory, divergence, native statuses), a bad argument,
    /// and I/O (a failed checkpoint save included: its message says why).
    /// </summary>
    private static bool IsExpected(Exception e) => e is DeepTrainException or ArgumentException or IOException or UnauthorizedAccessException
        or InvalidOperationException or FormatException or NotSupportedException or InvalidDataException;
}
