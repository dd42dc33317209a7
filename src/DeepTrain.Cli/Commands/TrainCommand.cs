using System.CommandLine;
using System.Globalization;
using System.Runtime.InteropServices;
using DeepTrain.Backends;
using DeepTrain.Backends.Cpu;
using DeepTrain.Data;
using DeepTrain.Distributed;
using DeepTrain.Mixed;
using DeepTrain.Optim;
using DeepTrain.Training;
using static DeepTrain.Cli.Commands.CommonOptions;

namespace DeepTrain.Cli.Commands;

/// <summary>
/// <c>deeptrain train</c>: parses its options into <see cref="FitOptions"/>, runs the library's <see cref="TrainingRun"/>,
/// and prints its progress. The first Ctrl-C or SIGTERM cancels the run at the next step boundary (exit 130 or 143,
/// the last completed epoch's checkpoint left for <c>--resume</c>); a second one exits at once. Under mpirun/srun a signal
/// to any rank (or to mpirun, which passes SIGTERM to every rank) stops every rank before the same step.
/// </summary>
internal static class TrainCommand
{
    /// <summary>Exit codes after a signal: 128 + the signal's number, as a shell reports a process it ended.</summary>
    internal const int ExitSigint = 130, ExitSigterm = 143;

    /// <summary>Test seam: the epoch after which the run waits for a signal (tests/DeepTrain.Tests/Cli/SignalTests).</summary>
    internal const string HoldVariable = "DEEPTRAIN_TEST_HOLD_AFTER_EPOCH";

    public static Command Create()
    {
        var o = new TrainCliOptions();
        var cmd = new Command("train", "Train a model; writes metrics.jsonl, metrics.png and model.safetensors to --out");
        o.AddTo(cmd);
        cmd.SetAction(r => CliErrors.Run(() => Run(r, o)));
        return cmd;
    }

    private static int Run(ParseResult r, TrainCliOptions o)
    {
        var fit = o.ToFitOptions(r);
        var distributed = o.ToDistributedOptions(r);
        string model = r.GetValue(o.Model)!, data = r.GetValue(o.Data)!;
        if (r.GetValue(o.Threads) is { } t) CpuBackend.Threads = t;
        // Under mpirun/srun with more than one rank: MPI, this rank's GPU, and only rank 0 prints (errors still reach stderr).
        // A plain run never loads MPI.
        using var group = ProcessGroup.FromLaunch(distributed);
        if (group is { IsMain: false }) Console.SetOut(TextWriter.Null);
        var device = Tensors.Device.Parse(r.GetValue(o.Device)!);
        using var backend = BackendFactory.Create(group?.DeviceFor(device) ?? device);
        var train = DatasetCatalog.Load(data, r.GetValue(o.DataDir), train: true);
        var test = DatasetCatalog.Load(data, r.GetValue(o.DataDir), train: false);
        var graph = Zoo.ModelZoo.Create(model, train.Channels, train.Classes, train.Height);
        using var run = new TrainingRun(graph, train, test, backend, fit, group);
        run.Trainer.StatisticsReport = (step, text) => Console.WriteLine($"statistics before step {step}:\n{text}");
        if (run.InitReport is { } init) Console.WriteLine($"{fit.InitFrom}: {init}");
        foreach (var warning in run.Warnings) CliErrors.Warn(warning);
        var (p, _) = Modeling.Model.Count(graph);
        var (opt, sched, trainer) = (fit.Optimizer, run.Schedule, run.Trainer);
        Console.WriteLine($"{graph.Name}: {p:N0} parameters | {run.Train.Name}: {run.Train.Count:N0} train / {test.Count:N0} test, {train.Channels}x{train.Height}x{train.Width}, {train.Classes} classes");
        if (group is not null)
            Console.WriteLine($"data parallel: {group.Size} ranks ({group.LocalSize} on this machine), {run.StepsPerEpoch} steps of {fit.BatchSize} per rank = global batch {fit.BatchSize * group.Size}; gradient buckets {distributed.BucketBytes / (1 << 20):0.##} MiB{(distributed.OverlapWithBackward ? " overlapping backward" : " after backward")}; batch norm over {(distributed.SyncBatchNorm ? "the global batch (sync)" : "each rank's batch")}");
        Console.WriteLine($"{backend.Description} | batch {fit.BatchSize} | {opt.Name} momentum/β1 {opt.Momentum} wd {opt.WeightDecay}{(run.Optimizer.Penalty is { } pen ? $" penalty {pen}" : "")}{(opt.Nesterov ? " nesterov" : "")} | {fit.Precision.Name()}{(trainer.Scaler is { } sc ? $", loss scale {sc.Options}" : "")}{(fit.ClipGradNorm is { } cg ? $", clip norm {cg}" : "")} | {sched} | augment {(run.Augmentation?.ToString() ?? "off")} | seed {fit.Seed}");
        Console.WriteLine($"{"epoch",5} {"train loss",10} {"train acc",9} {"test loss",9} {"test acc",8} {"lr",9} {"seconds",8} {"images/s",9}");
        if (run.StartEpoch > 0) Console.WriteLine($"resuming after epoch {run.StartEpoch} (step {trainer.GlobalStep}) from {fit.ResumeFrom}");

        using var cancel = new CancellationTokenSource();
        int exitCode = 0;
        void OnSignal(PosixSignalContext ctx, int code)
        {
            ctx.Cancel = true;   // the first signal stops the run at a step boundary; a second one ends the process now
            if (Interlocked.CompareExchange(ref exitCode, code, 0) == 0)
            {
                Console.Error.WriteLine($"{ctx.Signal}: stopping at the next step boundary (again to exit at once)");
                cancel.Cancel();
                return;
            }
            TrainProgressPrinter.RestoreTerminal();
            Environment.Exit(code);   // a commit in flight is finished by the next --resume (checkpoint.commit)
        }
        using var sigint = PosixSignalRegistration.Create(PosixSignal.SIGINT, ctx => OnSignal(ctx, ExitSigint));
        using var sigterm = PosixSignalRegistration.Create(PosixSignal.SIGTERM, ctx => OnSignal(ctx, ExitSigterm));
        var printer = new TrainProgressPrinter(run, r.GetValue(o.LogEvery));
        // The signal tests' seam: hold the run after epoch N's committed checkpoint until a signal arrives (a minute at
        // most), so their signal lands mid-run however busy the machine is. Unset, nothing waits.
        // Under mpirun only rank 0 holds (the test signals it alone); the others go on and wait for it in the next step's stop vote.
        if (int.TryParse(Environment.GetEnvironmentVariable(HoldVariable), NumberStyles.Integer, CultureInfo.InvariantCulture, out int hold) && group is not { IsMain: false })
            printer.AfterEpoch = e => { if (e == hold) cancel.Token.WaitHandle.WaitOne(TimeSpan.FromMinutes(1)); };
        FitResult result;
        // Across ranks, a cancellation on any rank stops every rank before the same step (the trainer's stop vote), so a
        // rank may stop without a signal of its own: it then exits as if interrupted (130).
        try { result = printer.Fit(cancel.Token); }
        catch (OperationCanceledException) when (cancel.IsCancellationRequested || group is not null)
        {
            string where = run.OutputDirectory is { } dir && printer.LastEpoch > 0
                ? $"the checkpoint of epoch {printer.LastEpoch} in {dir} continues with --resume {dir}" : "no epoch completed, so there is no checkpoint to resume";
            string who = group is null ? "" : $"rank {group.Rank} of {group.Size}: ";
            string why = group is null || cancel.IsCancellationRequested ? "" : " (another rank was signalled)";
            Console.Error.WriteLine($"{who}interrupted after step {run.Trainer.GlobalStep}{why}: {where}");
            return exitCode != 0 ? exitCode : ExitSigint;
        }
        string metricsPath = Path.Combine(fit.OutputDirectory!, "metrics.jsonl"), ckptPath = Path.Combine(fit.OutputDirectory!, "model.safetensors");
        if (result.StoppedEarly)
            Console.WriteLine($"early stop: the validation loss has not improved for {fit.EarlyStoppingPatience} epoch(s) (best {result.BestValidationLoss:F4})");
        if (group is not null)
        {
            double waited = run.Trainer.CommunicationWait.TotalSeconds;
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"communication: rank 0 waited {waited:F2} s for gradient all-reduces after backward, {waited / Math.Max(printer.TrainSeconds, 1e-9) * 100:F1}% of its {printer.TrainSeconds:F1} s of training steps"));
        }
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"done: {result.EpochsRun} epochs in {result.Seconds:F0} s; final test accuracy {result.Last!.TestAcc * 100:F2}% (best {result.BestTestAccuracy * 100:F2}%); {metricsPath}; {ckptPath}"));
        return 0;
    }

    /// <summary>The step log line, in the form the course notes and Caffe's solver print: <c>[00000010] lr=1.00e-01, Train Loss = 0.4321, Train Acc = 87.50%</c>.</summary>
    internal static string StepLogLine(long step, StepProgress s) => string.Create(CultureInfo.InvariantCulture,
        $"[{step:D8}] lr={s.Lr:0.00e+00}, Train Loss = {s.Loss:F4}{(double.IsNaN(s.Accuracy) ? "" : $", Train Acc = {s.Accuracy * 100:F2}%")}");
}
