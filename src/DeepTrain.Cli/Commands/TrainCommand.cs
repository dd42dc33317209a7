using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using DeepTrain.Backends;
using DeepTrain.Backends.Cpu;
using DeepTrain.Data;
using DeepTrain.Graph;
using DeepTrain.Losses;
using DeepTrain.Mixed;
using DeepTrain.Optim;
using DeepTrain.Tensors;
using DeepTrain.Training;
using Spectre.Console;
using static DeepTrain.Cli.Commands.CommonOptions;

namespace DeepTrain.Cli.Commands;

/// <summary><c>deeptrain train</c>: trains a built-in model on a built-in data set.</summary>
internal static class TrainCommand
{
    private static readonly string[] s_schedules = ["one-cycle", "multistep", "cosine", "cosine-restarts", "step", "exponential", "constant"];
    private static readonly string[] s_optimizers = ["sgd", "adam", "adamw", "adagrad", "rmsprop"];

    public static Command Create()
    {
        var model = Model("resnet20");
        var data = new Option<string>("--data") { Description = "Data set: " + string.Join(", ", DatasetCatalog.Names), DefaultValueFactory = _ => "fashion-mnist" };
        var dataDir = new Option<string?>("--data-dir") { Description = "Folder holding the data set's files (default: the system location or $DEEPTRAIN_DATA)" };
        var epochs = new Option<int>("--epochs", "-e") { Description = "Passes over the training set", DefaultValueFactory = _ => 4 };
        var batch = BatchSize(128);
        var lr = new Option<float>("--lr") { Description = "Learning rate (the peak rate for one-cycle)", DefaultValueFactory = _ => 0.1f };
        var momentum = new Option<float>("--momentum") { Description = "SGD momentum (one-cycle cycles it between 0.85 and 0.95 unless --no-cycle-momentum)", DefaultValueFactory = _ => 0.9f };
        var wd = new Option<float>("--weight-decay") { Description = "L2 weight decay λ (the loss gains λ/2·‖w‖²; PyTorch's and Caffe's meaning); conv/linear weights only", DefaultValueFactory = _ => 5e-4f };
        var nesterov = new Option<bool>("--nesterov") { Description = "Nesterov momentum" };
        var l1 = new Option<float>("--l1") { Description = "L1 penalty λ1: the loss gains λ1·‖w‖₁, the gradient λ1·sign(w), under any optimizer; with --l2, the elastic net (conv/linear weights only)", DefaultValueFactory = _ => 0f };
        var l2 = new Option<float>("--l2") { Description = "L2 penalty λ2: the loss gains λ2/2·‖w‖², the gradient λ2·w, under any optimizer (with sgd the same as --weight-decay; with adamw not decoupled)", DefaultValueFactory = _ => 0f };
        var schedule = new Option<string>("--schedule") { Description = "Learning-rate schedule: one-cycle; multistep (÷10 at 50% and 75%, the paper's steps); cosine; cosine-restarts (SGDR, period one epoch doubling); step (÷10 every third of training); exponential (smoothly ÷100 over training); constant", DefaultValueFactory = _ => "one-cycle" };
        schedule.AcceptOnlyFromAmong(s_schedules);
        var optimizer = new Option<string>("--optimizer") { Description = "sgd (momentum, L2 decay), adam (L2 decay), adamw (decoupled decay), adagrad or rmsprop (L2 decay; --momentum is RMSprop's momentum)", DefaultValueFactory = _ => "sgd" };
        optimizer.AcceptOnlyFromAmong(s_optimizers);
        var accumulate = new Option<int>("--accumulate") { Description = "Split each batch into K micro-batches and sum their gradients before one step (Caffe's iter_size; less memory)", DefaultValueFactory = _ => 1 };
        var resume = new Option<string?>("--resume") { Description = "Continue the run saved in this folder (model.safetensors + training_state.safetensors); same seed, same result" };
        var valSplit = new Option<int>("--val-split") { Description = "Carve N samples (seeded) from the training set for validation; reported each epoch", DefaultValueFactory = _ => 0 };
        var earlyStop = new Option<int>("--early-stop") { Description = "Stop when the validation loss has not improved for P epochs (needs --val-split)", DefaultValueFactory = _ => 0 };
        var preciseBn = new Option<int>("--precise-bn") { Description = "Before each evaluation, recompute batch-norm statistics as the average over N training batches (0: PyTorch's running averages)", DefaultValueFactory = _ => 0 };
        var bnAverage = new Option<string>("--bn-average") { Description = "Batch-norm running statistics: running (exponential, momentum 0.1, PyTorch's default) or cumulative (the plain average over every training batch, PyTorch's momentum=None)", DefaultValueFactory = _ => "running" };
        bnAverage.AcceptOnlyFromAmong("running", "cumulative");
        var overfit = new Option<int>("--overfit-batches") { Description = "Sanity check: train on only the first N batches (no augmentation); a healthy setup drives the training loss towards 0", DefaultValueFactory = _ => 0 };
        var statsEvery = new Option<int>("--stats-every") { Description = "Every N steps, print per-layer activation statistics (mean, std, zeros) and gradient norms with the update/weight ratio (slow; for debugging)", DefaultValueFactory = _ => 0 };
        var initFrom = new Option<string?>("--init-from") { Description = "Fine-tune: start from the weights of this safetensors file wherever names and shapes match, and report the rest" };
        var freeze = new Option<string?>("--freeze") { Description = "Comma-separated parameter-name prefixes to leave unchanged (e.g. conv1,layer1)" };
        var lrScale = new Option<string?>("--lr-scale") { Description = "Per-layer learning rates: PREFIX=SCALE[,PREFIX=SCALE] multiplies the rate of those parameters (e.g. layer1=0.1,linear=2)" };
        var momentumForm = new Option<string>("--momentum-form") { Description = "SGD momentum as pytorch (b ← μb + g; w ← w − lr·b) or caffe (v ← μv + lr·g; w ← w − v); they differ when the rate changes", DefaultValueFactory = _ => "pytorch" };
        momentumForm.AcceptOnlyFromAmong("pytorch", "caffe");
        var lrReference = new Option<int>("--lr-reference-batch") { Description = "Linear scaling rule (Goyal et al. 2017): --lr was tuned for this batch size, so use lr·batch/B (0: off)", DefaultValueFactory = _ => 0 };
        var warmup = new Option<int>("--warmup-epochs") { Description = "Linear learning-rate warm-up before the schedule (not with one-cycle, which has its own)", DefaultValueFactory = _ => 0 };
        var noCycle = new Option<bool>("--no-cycle-momentum") { Description = "Keep momentum fixed under one-cycle" };
        var augment = new Option<bool>("--augment") { Description = "Pad-and-random-crop (4 pixels) and horizontal flip on worker threads" };
        var device = Device();
        var seed = new Option<ulong>("--seed") { Description = "Seed for initialisation, shuffling, augmentation and dropout", DefaultValueFactory = _ => 1UL };
        var outDir = new Option<string>("--out", "-o") { Description = "Output folder for metrics.jsonl, metrics.png and model.safetensors", DefaultValueFactory = _ => "runs/latest" };
        var threads = new Option<int?>("--threads") { Description = "CPU backend threads (default: all processors)" };
        var evalBatch = new Option<int>("--eval-batch-size") { Description = "Batch size for evaluation", DefaultValueFactory = _ => 500 };
        var layout = Layout();
        var logEvery = new Option<int>("--log-every") { Description = "Print a step log line every N steps (0: never)", DefaultValueFactory = _ => 0 };
        var augmentation = new AugmentationCliOptions();
        var precision = new Option<string>("--precision") { Description = "fp32, fp16 or bf16: 16-bit activations and weight copies over fp32 master weights (the CPU emulates 16-bit storage)", DefaultValueFactory = _ => "fp32" };
        var lossScale = new Option<string?>("--loss-scale") { Description = "dynamic (GradScaler: 2^16, ×2 per 2000 clean steps, ×0.5 and skip on overflow), static:S, or off; default dynamic for fp16, off otherwise" };
        var clipNorm = new Option<float?>("--clip-grad-norm") { Description = "Clip the gradients' global L2 norm to MAX after unscaling (torch.nn.utils.clip_grad_norm_)" };
        var detectAnomaly = new Option<bool>("--detect-anomaly") { Description = "Read the loss back after every step (Trainer.SyncEvery = 1), so a NaN/∞ loss stops the run at that very step, before its update, naming the first non-finite layer; slower on a GPU. Otherwise the loss reaches the host every --log-every steps (default 20)" };
        var cmd = new Command("train", "Train a model; writes metrics.jsonl, metrics.png and model.safetensors to --out")
            { model, data, dataDir, epochs, batch, lr, optimizer, momentum, wd, l1, l2, nesterov, schedule, lrReference, warmup, accumulate, resume, valSplit, earlyStop, preciseBn, bnAverage, overfit, statsEvery, initFrom, freeze, lrScale, momentumForm, noCycle, augment, device, seed, outDir, threads, evalBatch, layout, logEvery, precision, lossScale, clipNorm, detectAnomaly };
        cmd.SetAction(r => CliErrors.Run(() => Run(new TrainArgs(
            r.GetValue(model)!, r.GetValue(data)!, r.GetValue(dataDir), r.GetValue(epochs), r.GetValue(batch), r.GetValue(lr), r.GetValue(momentum),
            r.GetValue(wd), r.GetValue(nesterov), r.GetValue(schedule)!, !r.GetValue(noCycle), r.GetValue(augment), r.GetValue(device)!, r.GetValue(seed),
            r.GetValue(outDir)!, r.GetValue(threads), r.GetValue(evalBatch), r.GetValue(layout)!, r.GetValue(logEvery), r.GetValue(optimizer)!, r.GetValue(warmup), r.GetValue(accumulate), r.GetValue(resume), r.GetValue(valSplit), r.GetValue(earlyStop), r.GetValue(preciseBn), r.GetValue(overfit), r.GetValue(statsEvery), r.GetValue(initFrom), r.GetValue(freeze), r.GetValue(lrScale), r.GetValue(momentumForm)!)
            { Augmentation = augmentation.Build(r, r.GetValue(augment)), L1 = r.GetValue(l1), L2 = r.GetValue(l2), BnAverage = r.GetValue(bnAverage)!, LrReferenceBatch = r.GetValue(lrReference),
                Precision = r.GetValue(precision)!, LossScale = r.GetValue(lossScale), ClipGradNorm = r.GetValue(clipNorm), DetectAnomaly = r.GetValue(detectAnomaly) })));
        augmentation.AddTo(cmd);
        return cmd;
    }

    internal sealed record TrainArgs(string Model, string Data, string? DataDir, int Epochs, int BatchSize, float Lr, float Momentum, float WeightDecay,
        bool Nesterov, string Schedule, bool CycleMomentum, bool Augment, string Device, ulong Seed, string Out, int? Threads, int EvalBatch, string Layout, int LogEvery, string Optimizer = "sgd", int WarmupEpochs = 0, int Accumulate = 1, string? Resume = null, int ValSplit = 0, int EarlyStop = 0, int PreciseBn = 0, int OverfitBatches = 0, int StatsEvery = 0, string? InitFrom = null, string? Freeze = null, string? LrScale = null, string MomentumForm = "pytorch")
    {
        /// <summary>The whole augmentation (--augment, --color-jitter, --rotate, --translate, --random-erasing, --cutmix); null: --augment alone decides.</summary>
        public AugmentationOptions? Augmentation { get; init; }
        /// <summary>--l1: λ1 of the weight penalty.</summary>
        public float L1 { get; init; }
        /// <summary>--l2: λ2 of the weight penalty.</summary>
        public float L2 { get; init; }
        /// <summary>--bn-average: "running" or "cumulative".</summary>
        public string BnAverage { get; init; } = "running";
        /// <summary>--lr-reference-batch: the batch size --lr was tuned for (0: no scaling).</summary>
        public int LrReferenceBatch { get; init; }
        /// <summary>--precision: fp32, fp16 or bf16.</summary>
        public string Precision { get; init; } = "fp32";
        /// <summary>--loss-scale: dynamic, static:S or off (null: the precision's default).</summary>
        public string? LossScale { get; init; }
        /// <summary>--clip-grad-norm MAX, or null.</summary>
        public float? ClipGradNorm { get; init; }
        /// <summary>--detect-anomaly: synchronise every step (Trainer.SyncEvery = 1).</summary>
        public bool DetectAnomaly { get; init; }
    }

    internal static int Run(TrainArgs a)
    {
        if (a.Epochs < 1) throw new ArgumentException($"--epochs must be ≥ 1, got {a.Epochs}");
        if (!(a.Lr > 0) || float.IsInfinity(a.Lr)) throw new ArgumentException($"--lr must be a finite number > 0, got {a.Lr}");
        // Impossible hyper-parameters fail here, naming the option and its valid range, before any data is read.
        if (!(a.Momentum >= 0 && a.Momentum < 1)) throw new ArgumentException($"--momentum must be in [0, 1) (SGD's or RMSprop's momentum, Adam's β1), got {a.Momentum}");
        if (!(a.WeightDecay >= 0) || float.IsInfinity(a.WeightDecay)) throw new ArgumentException($"--weight-decay must be a finite number ≥ 0, got {a.WeightDecay}");
        if (a.EvalBatch < 1) throw new ArgumentException($"--eval-batch-size must be ≥ 1, got {a.EvalBatch}");
        if (a.Threads is < 1) throw new ArgumentException($"--threads must be ≥ 1, got {a.Threads}");
        foreach (var (option, value) in new[] { ("--log-every", a.LogEvery), ("--precise-bn", a.PreciseBn), ("--stats-every", a.StatsEvery), ("--early-stop", a.EarlyStop), ("--overfit-batches", a.OverfitBatches) })
            if (value < 0) throw new ArgumentException($"{option} must be ≥ 0 (0: off), got {value}");
        if (a.LrReferenceBatch < 0) throw new ArgumentException($"--lr-reference-batch must be ≥ 1 (or 0 for no scaling), got {a.LrReferenceBatch}");
        if (a.LrReferenceBatch > 0)
        {
            float scaled = LrSchedule.ScaleForBatch(a.Lr, a.BatchSize, a.LrReferenceBatch);
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"linear scaling: lr {a.Lr:G4} for batch {a.LrReferenceBatch} becomes {scaled:G4} for batch {a.BatchSize}"));
            a = a with { Lr = scaled };
        }
        foreach (var (option, value) in new[] { ("--l1", a.L1), ("--l2", a.L2) })
            if (!(value >= 0) || float.IsInfinity(value)) throw new ArgumentException($"{option} must be a finite number ≥ 0, got {value}");
        if (a.Threads is { } t) CpuParallel.Threads = t;
        var precision = PrecisionInfo.Parse(a.Precision);
        var lossScaling = a.LossScale is null ? (precision.ScalesLossByDefault() ? LossScalerOptions.Dynamic : null) : LossScalerOptions.Parse(a.LossScale);
        var layout = ParseLayout(a.Layout);
        var device = Tensors.Device.Parse(a.Device);
        using var backend = BackendFactory.Create(device);

        var train = DatasetCatalog.Load(a.Data, a.DataDir, train: true);
        var test = DatasetCatalog.Load(a.Data, a.DataDir, train: false);
        if (a.ValSplit < 0 || a.ValSplit >= train.Count) throw new ArgumentException($"--val-split must be in [0, {train.Count - 1}] (the training set has {train.Count} samples), got {a.ValSplit}");
        if (a.EarlyStop < 0) throw new ArgumentException($"--early-stop must be ≥ 0, got {a.EarlyStop}");
        if (a.EarlyStop > 0 && a.ValSplit == 0) throw new ArgumentException("--early-stop watches the validation loss: give --val-split too");
        Dataset? val = null;
        if (a.ValSplit > 0) (train, val) = train.Split(a.ValSplit, a.Seed);
        if (a.OverfitBatches < 0 || (long)a.OverfitBatches * a.BatchSize > train.Count)
            throw new ArgumentException($"--overfit-batches must be in [0, {train.Count / a.BatchSize}] at batch size {a.BatchSize}, got {a.OverfitBatches}");
        if (a.OverfitBatches > 0)
        {
            train = train.Subset(Enumerable.Range(0, a.OverfitBatches * a.BatchSize).ToArray(), $"{train.Name} (first {a.OverfitBatches} batches)");
            a = a with { Augment = false, Augmentation = null };
        }
        var graph = Models.ModelZoo.Create(a.Model, train.Channels, train.Classes, train.Height);
        var norm = Normalization.FromDataset(train);
        var aug = a.Augmentation ?? (a.Augment ? AugmentationOptions.Standard : null);
        using var trainLoader = new DataLoader(train, a.BatchSize, shuffle: true, norm, aug, a.Seed, dropLast: true);
        using var testLoader = new DataLoader(test, a.EvalBatch, shuffle: false, norm, null, a.Seed, dropLast: false);
        using var valLoader = val is null ? null : new DataLoader(val, a.EvalBatch, shuffle: false, norm, null, a.Seed, dropLast: false);
        if (trainLoader.BatchesPerEpoch == 0) throw new ArgumentException($"--batch-size {a.BatchSize} is larger than the training set ({train.Count} samples)");

        using var model = new DeepTrain.Graph.Model(graph, backend, a.Seed, GroupRules(a));
        using Optimizer opt = a.Optimizer switch
        {
            "adam" => new Adam(model.Parameters, a.Lr, beta1: a.Momentum, weightDecay: a.WeightDecay),
            "adamw" => new AdamW(model.Parameters, a.Lr, beta1: a.Momentum, weightDecay: a.WeightDecay),
            "adagrad" => new Adagrad(model.Parameters, a.Lr, weightDecay: a.WeightDecay),
            "rmsprop" => new RMSprop(model.Parameters, a.Lr, weightDecay: a.WeightDecay, momentum: a.Momentum),
            _ => new SGD(model.Parameters, a.Lr, a.Momentum, a.WeightDecay, nesterov: a.Nesterov,
                form: a.MomentumForm == "caffe" ? Backends.SgdMomentumForm.Caffe : Backends.SgdMomentumForm.PyTorch),
        };
        if (a.L1 > 0 || a.L2 > 0) opt.Penalty = new WeightPenalty(a.L1, a.L2);
        if (a.WarmupEpochs < 0 || a.WarmupEpochs >= a.Epochs) throw new ArgumentException($"--warmup-epochs must be in [0, {a.Epochs - 1}] (fewer than --epochs), got {a.WarmupEpochs}");
        if (a.WarmupEpochs > 0 && a.Schedule == "one-cycle") throw new ArgumentException("--warmup-epochs does not combine with --schedule one-cycle, which warms up by itself");
        long perEpoch = trainLoader.BatchesPerEpoch, warmupSteps = perEpoch * a.WarmupEpochs, total = perEpoch * a.Epochs - warmupSteps;
        LrSchedule sched = a.Schedule switch
        {
            "one-cycle" => new OneCycleLr(a.Lr, total, cycleMomentum: a.CycleMomentum),
            "multistep" => new MultiStepLr(a.Lr, [total / 2, total * 3 / 4]),
            "cosine" => new CosineLr(a.Lr, total),
            "cosine-restarts" => new CosineWarmRestartsLr(a.Lr, perEpoch, 2),
            "step" => new StepLr(a.Lr, Math.Max(1, total / 3)),
            "exponential" => new ExponentialLr(a.Lr, (float)Math.Pow(0.01, 1.0 / Math.Max(1, total))),
            _ => new ConstantLr(a.Lr),
        };
        if (warmupSteps > 0) sched = new WarmupLr(sched, warmupSteps);
        using var trainer = new Trainer(model, opt, sched, new CrossEntropyLoss(), a.BatchSize, a.EvalBatch, layout, a.Seed, a.Accumulate, precision);
        trainer.ConfigureLossScaling(lossScaling);   // throws for an optimizer that cannot skip steps, naming --loss-scale off
        trainer.ClipGradNorm = a.ClipGradNorm;
        // The loss reaches the host only at sync points: make every logged step one (the progress bar shows the last).
        trainer.SyncEvery = a.DetectAnomaly ? 1 : a.LogEvery > 0 ? a.LogEvery : Trainer.DefaultSyncEvery;

        if (a.InitFrom is not null)
        {
            if (a.Resume is not null) throw new ArgumentException("--init-from and --resume exclude each other: --resume restores the whole run");
            Console.WriteLine($"{a.InitFrom}: {ModelCheckpoint.LoadMatching(model, a.InitFrom)}");
        }
        if (a.StatsEvery < 0) throw new ArgumentException($"--stats-every must be ≥ 0, got {a.StatsEvery}");
        trainer.StatisticsEvery = a.StatsEvery;
        trainer.CumulativeBatchNorm = a.BnAverage == "cumulative";
        trainer.StatisticsReport = (step, text) => Console.WriteLine($"statistics before step {step}:\n{text}");
        int startEpoch = a.Resume is null ? 0 : TrainingState.Load(a.Resume, model, opt, trainer);
        if (startEpoch >= a.Epochs) throw new ArgumentException($"--resume {a.Resume}: that run already completed {startEpoch} epochs; ask for more with --epochs");
        Directory.CreateDirectory(a.Out);
        string metricsPath = Path.Combine(a.Out, "metrics.jsonl"), ckptPath = Path.Combine(a.Out, TrainingState.ModelFile);
        if (a.Resume is null || !File.Exists(metricsPath)) File.WriteAllText(metricsPath, "");
        var (p, _) = DeepTrain.Graph.Model.Count(graph);
        Console.WriteLine($"{graph.Name}: {p:N0} parameters | {train.Name}: {train.Count:N0} train / {test.Count:N0} test, {train.Channels}x{train.Height}x{train.Width}, {train.Classes} classes");
        Console.WriteLine($"{backend.Description} | batch {a.BatchSize} | {a.Optimizer} momentum/β1 {a.Momentum} wd {a.WeightDecay}{(opt.Penalty is { } pen ? $" penalty {pen}" : "")}{(a.Nesterov ? " nesterov" : "")} | {precision.Name()}{(trainer.Scaler is { } sc ? $", loss scale {sc.Options}" : "")}{(a.ClipGradNorm is { } cg ? $", clip norm {cg}" : "")} | {sched} | augment {(aug?.ToString() ?? "off")} | seed {a.Seed}");
        Console.WriteLine($"{"epoch",5} {"train loss",10} {"train acc",9} {"test loss",9} {"test acc",8} {"lr",9} {"seconds",8} {"images/s",9}");

        var start = DateTime.UtcNow;
        double best = 0, bestVal = double.PositiveInfinity;
        int sinceBest = 0, epochsRun = 0;
        EpochMetrics? last = null;
        bool interactive = !Console.IsOutputRedirected && AnsiConsole.Profile.Capabilities.Interactive;
        if (startEpoch > 0) Console.WriteLine($"resuming after epoch {startEpoch} (step {trainer.GlobalStep}) from {a.Resume}");
        for (int epoch = startEpoch + 1; epoch <= a.Epochs; epoch++)
        {
            (double Loss, double Accuracy, long Images, double Seconds) r = default;
            void OnStep(StepProgress s)
            {
                // The course notes' first sanity check: with small random weights the softmax is nearly
                // uniform, so the first loss should be close to ln(classes).
                if (trainer.GlobalStep == 1 && startEpoch == 0)
                {
                    double expected = Math.Log(train.Classes), gap = s.Loss - expected;
                    string verdict = Math.Abs(gap) <= 0.25 * expected ? "as expected for near-uniform predictions"
                        : gap > 0 ? "the output layer starts confident: fine if the loss falls within the first epoch, else check the initialisation, labels and normalisation"
                        : "lower than chance: check that the labels are not leaking into the inputs";
                    Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"initial loss {s.Loss:F3} against ln({train.Classes}) = {expected:F3} for uniform predictions: {verdict}"));
                }
                if (a.LogEvery > 0 && trainer.GlobalStep % a.LogEvery == 0)
                    Console.WriteLine(StepLogLine(trainer.GlobalStep, s));
            }
            if (interactive)
            {
                AnsiConsole.Progress().AutoClear(true).HideCompleted(true)
                    .Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(), new RemainingTimeColumn(), new SpinnerColumn())
                    .Start(ctx =>
                    {
                        var task = ctx.AddTask($"epoch {epoch}/{a.Epochs}", maxValue: trainLoader.BatchesPerEpoch);
                        r = trainer.TrainEpoch(trainLoader, epoch - 1, s =>
                        {
                            task.Value = s.Batch;
                            task.Description = $"epoch {epoch}/{a.Epochs} loss {s.Loss:F3} {s.Images / Math.Max(s.Seconds, 1e-9):F0} img/s";
                            OnStep(s);
                        });
                    });
            }
            else r = trainer.TrainEpoch(trainLoader, epoch - 1, OnStep);
            var evalStart = DateTime.UtcNow;
            if (a.PreciseBn > 0) trainer.RecomputeBatchNormStatistics(trainLoader, a.PreciseBn, epoch - 1);
            var (testLoss, testAcc) = trainer.Evaluate(testLoader);
            var (valLoss, valAcc) = valLoader is null ? (double.NaN, double.NaN) : trainer.Evaluate(valLoader);
            double seconds = r.Seconds + (DateTime.UtcNow - evalStart).TotalSeconds;
            last = new EpochMetrics(epoch, r.Loss, r.Accuracy, testLoss, testAcc, opt.LearningRate, seconds, r.Images / r.Seconds)
            {
                SkippedSteps = trainer.LastEpochSkippedSteps, LossScale = trainer.Scaler?.Read().Scale,
            };
            best = Math.Max(best, testAcc);
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"{epoch,5} {r.Loss,10:F4} {r.Accuracy * 100,8:F2}% {testLoss,9:F4} {testAcc * 100,7:F2}% {opt.LearningRate,9:0.00e+00} {seconds,8:F1} {last.ImagesPerSec,9:F0}{(valLoader is null ? "" : $"   val loss {valLoss:F4} val acc {valAcc * 100:F2}%")}{(last.LossScale is { } ls ? $"   loss scale {ls:G} ({last.SkippedSteps} skipped)" : "")}"));
            var row = new Dictionary<string, object>
            {
                ["epoch"] = epoch, ["train_loss"] = r.Loss, ["train_acc"] = r.Accuracy, ["test_loss"] = testLoss, ["test_acc"] = testAcc,
                ["lr"] = opt.LearningRate, ["seconds"] = seconds, ["images_per_sec"] = last.ImagesPerSec,
            };
            if (valLoader is not null) { row["val_loss"] = valLoss; row["val_acc"] = valAcc; }
            if (opt.Penalty is { } penalty) row["penalty"] = penalty.Value(model.Parameters);   // not in train_loss: see WeightPenalty
            if (last.LossScale is { } scale) { row["loss_scale"] = scale; row["skipped_steps"] = last.SkippedSteps; }
            File.AppendAllText(metricsPath, JsonSerializer.Serialize(row) + "\n");
            Plotting.MetricsPlot.WriteBeside(metricsPath);   // metrics.png, redrawn atomically after every epoch
            TrainingState.Save(a.Out, model, opt, trainer, epoch, new Dictionary<string, string>
            {
                ["model"] = a.Model, ["data"] = a.Data, ["epoch"] = epoch.ToString(CultureInfo.InvariantCulture),
                ["input"] = $"{train.Channels}x{train.Height}x{train.Width}", ["classes"] = train.Classes.ToString(CultureInfo.InvariantCulture),
                ["test_acc"] = testAcc.ToString("F4", CultureInfo.InvariantCulture), ["seed"] = a.Seed.ToString(CultureInfo.InvariantCulture),
            });
            // Early stopping on the validation loss: patience counts epochs without a new minimum.
            if (valLoader is not null)
            {
                if (valLoss < bestVal) { bestVal = valLoss; sinceBest = 0; }
                else if (a.EarlyStop > 0 && ++sinceBest >= a.EarlyStop)
                {
                    Console.WriteLine($"early stop: the validation loss has not improved for {a.EarlyStop} epoch(s) (best {bestVal:F4})");
                    epochsRun = epoch - startEpoch;
                    break;
                }
            }
            epochsRun = epoch - startEpoch;
        }
        double wall = (DateTime.UtcNow - start).TotalSeconds;
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"done: {epochsRun} epochs in {wall:F0} s; final test accuracy {last!.TestAcc * 100:F2}% (best {best * 100:F2}%); {metricsPath}; {ckptPath}"));
        return 0;
    }

    /// <summary>The step log line, in the form the course notes and Caffe's solver print: <c>[00000010] lr=1.00e-01, Train Loss = 0.4321, Train Acc = 87.50%</c>.</summary>
    internal static string StepLogLine(long step, StepProgress s) => string.Create(CultureInfo.InvariantCulture,
        $"[{step:D8}] lr={s.Lr:0.00e+00}, Train Loss = {s.Loss:F4}{(double.IsNaN(s.Accuracy) ? "" : $", Train Acc = {s.Accuracy * 100:F2}%")}");

    /// <summary>Parameter groups from --freeze and --lr-scale (a frozen prefix wins over a scaled one).</summary>
    /// <exception cref="FormatException">--lr-scale is not PREFIX=SCALE pairs.</exception>
    private static List<DeepTrain.Memory.ParameterGroupRule> GroupRules(TrainArgs a)
    {
        var rules = new List<DeepTrain.Memory.ParameterGroupRule>();
        foreach (var p in (a.Freeze ?? "").Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
            rules.Add(new(p, Frozen: true));
        foreach (var pair in (a.LrScale ?? "").Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            var kv = pair.Split('=');
            if (kv.Length != 2 || kv[0].Length == 0 || !float.TryParse(kv[1], NumberStyles.Float, CultureInfo.InvariantCulture, out float scale) || !(scale >= 0))
                throw new FormatException($"--lr-scale '{pair}' is not valid: expected PREFIX=SCALE with SCALE ≥ 0, e.g. layer1=0.1");
            rules.Add(new(kv[0], LrScale: scale));
        }
        return rules;
    }
}
