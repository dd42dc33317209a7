using System.Globalization;
using DeepTrain.Cli.Plotting;
using DeepTrain.Training;
using Spectre.Console;

namespace DeepTrain.Cli.Commands;

/// <summary>
/// Prints a <see cref="TrainingRun"/>'s progress: a progress bar per epoch on a terminal, the step log every
/// <c>--log-every</c> steps, the first loss against ln(classes), and one table row per epoch; redraws metrics.png
/// after every committed epoch (the engine's fit loop does not know about plots).
/// </summary>
internal sealed class TrainProgressPrinter(TrainingRun run, int logEvery) : IProgress<TrainingProgress>
{
    private ProgressContext? _bars;
    private ProgressTask? _bar;
    private int _barEpoch;

    /// <summary>The last epoch whose checkpoint was committed (0: none yet).</summary>
    public int LastEpoch { get; private set; }

    /// <summary>Called on the training thread after each epoch's row (with the epoch): the run waits for it.</summary>
    public Action<int>? AfterEpoch { get; set; }

    /// <summary>Runs <see cref="TrainingRun.Fit"/> with this printer, inside a live progress display on a terminal.</summary>
    /// <exception cref="OperationCanceledException">The run was cancelled.</exception>
    public FitResult Fit(CancellationToken cancel)
    {
        bool interactive = !Console.IsOutputRedirected && AnsiConsole.Profile.Capabilities.Interactive;
        if (!interactive) return run.Fit(this, cancel);
        FitResult? result = null;
        try
        {
            AnsiConsole.Progress().AutoClear(true).HideCompleted(true)
                .Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(), new RemainingTimeColumn(), new SpinnerColumn())
                .Start(ctx => { _bars = ctx; result = run.Fit(this, cancel); });
        }
        finally { RestoreTerminal(); }
        return result!;
    }

    /// <summary>Shows the cursor again (a live progress display hides it).</summary>
    public static void RestoreTerminal()
    {
        if (!Console.IsOutputRedirected) Console.Out.Write("\u001b[?25h");
    }

    public void Report(TrainingProgress p)
    {
        if (p.Phase == TrainingPhase.Step) Step(p);
        else Epoch(p);
    }

    /// <summary>Seconds of training steps over the epochs run (evaluation and checkpoints excluded).</summary>
    public double TrainSeconds { get; private set; }
    private double _epochStepSeconds;

    private void Step(TrainingProgress p)
    {
        var s = p.Step;
        _epochStepSeconds = s.Seconds;
        // The course notes' first sanity check: with small random weights the softmax is nearly
        // uniform, so the first loss should be close to ln(classes).
        if (p.GlobalStep == 1 && run.StartEpoch == 0)
        {
            int classes = run.Train.Classes;
            double expected = Math.Log(classes), gap = s.Loss - expected;
            string verdict = Math.Abs(gap) <= 0.25 * expected ? "as expected for near-uniform predictions"
                : gap > 0 ? "the output layer starts confident: fine if the loss falls within the first epoch, else check the initialisation, labels and normalisation"
                : "lower than chance: check that the labels are not leaking into the inputs";
            Line(string.Create(CultureInfo.InvariantCulture, $"initial loss {s.Loss:F3} against ln({classes}) = {expected:F3} for uniform predictions: {verdict}"));
        }
        if (logEvery > 0 && p.GlobalStep % logEvery == 0) Line(TrainCommand.StepLogLine(p.GlobalStep, s));
        if (_bars is null) return;
        if (_bar is null || _barEpoch != p.Epoch)
        {
            _bar?.StopTask();
            _bar = _bars.AddTask($"epoch {p.Epoch}/{p.Epochs}", maxValue: s.Batches);
            _barEpoch = p.Epoch;
        }
        _bar.Value = s.Batch;
        _bar.Description = $"epoch {p.Epoch}/{p.Epochs} loss {s.Loss:F3} {s.Images / Math.Max(s.Seconds, 1e-9):F0} img/s";
    }

    private void Epoch(TrainingProgress p)
    {
        var m = p.Metrics!;
        _bar?.StopTask();
        _bar = null;
        Line(string.Create(CultureInfo.InvariantCulture,
            $"{m.Epoch,5} {m.TrainLoss,10:F4} {m.TrainAcc * 100,8:F2}% {m.TestLoss,9:F4} {m.TestAcc * 100,7:F2}% {(float)m.Lr,9:0.00e+00} {m.Seconds,8:F1} {m.ImagesPerSec,9:F0}{(m.ValidationLoss is { } vl ? $"   val loss {vl:F4} val acc {m.ValidationAccuracy * 100:F2}%" : "")}{(m.LossScale is { } ls ? $"   loss scale {ls:G} ({m.SkippedSteps} skipped)" : "")}"));
        if (p.MetricsPath is { } path) MetricsPlot.WriteBeside(path);   // metrics.png, redrawn atomically after every epoch
        LastEpoch = p.Epoch;
        TrainSeconds += _epochStepSeconds;
        _epochStepSeconds = 0;
        AfterEpoch?.Invoke(p.Epoch);
    }

    /// <summary>A line above the live display on a terminal, else on standard output.</summary>
    private void Line(string text)
    {
        if (_bars is not null) AnsiConsole.WriteLine(text);
        else Console.WriteLine(text);
    }
}
