using System.Diagnostics;
using DeepTrain.Backends;
using DeepTrain.Backends.Cpu;
using DeepTrain.Data;
using DeepTrain.Distributed;
using DeepTrain.Layers;
using DeepTrain.Losses;
using DeepTrain.Mixed;
using DeepTrain.Modeling;
using DeepTrain.Optim;
using DeepTrain.Tensors;
using DeepTrain.Training;

namespace DeepTrain.DistributedRanks;

internal static class Ranks
{
    private static int _rank, _failures;

    private static void Ok(string check, bool pass, string detail = "")
    {
        Console.WriteLine(pass ? $"rank {_rank}: ok {check}{(detail.Length > 0 ? $" ({detail})" : "")}" : $"rank {_rank}: FAIL {check}: {detail}");
        if (!pass) _failures++;
    }

    public static int Run(string mode)
    {
        CpuBackend.Threads = 1;   // two ranks share the machine's cores
        // late-start: a short watchdog, so that rank 1's late arrival at the start-up broadcast ends the job in seconds.
        var timeout = TimeSpan.FromSeconds(mode == "late-start" ? 2 : 30);
        using var group = ProcessGroup.InitializeMpi(new DistributedOptions { BucketBytes = 1024, Timeout = timeout });
        _rank = group.Rank;
        Ok("size", group.Size == 2, $"size {group.Size}");
        switch (mode)
        {
            case "equal-sgd": Equal(group, new OptimizerOptions("sgd", 0.05f, 0.9f, 5e-4f)); break;
            case "equal-adamw": Equal(group, new OptimizerOptions("adamw", 0.003f, 0.9f, 0.01f)); break;
            case "equal-sgd-cuda": Equal(group, new OptimizerOptions("sgd", 0.05f, 0.9f, 5e-4f), cuda: true); break;
            case "sync-bn": SyncBatchNorm(group); break;
            case "collectives": Collectives(group); break;
            case "overlap": Overlap(group); break;
            case "bad-input": BadInput(group); break;
            case "kill": Kill(group); break;
            case "late-start": LateStart(group); break;
            default: Console.WriteLine($"rank {_rank}: FAIL mode: unknown mode '{mode}'"); return 2;
        }
        Console.WriteLine($"rank {_rank}: done");
        return _failures == 0 ? 0 : 1;
    }

    /// <summary>1×8×8 gray images of 4 classes; image i's brightness depends on its class, plus seeded noise.</summary>
    private static Dataset Images(int n, int size = 8)
    {
        var rng = new Random(11);
        var pixels = new byte[n * size * size];
        var labels = new int[n];
        for (int i = 0; i < n; i++)
        {
            labels[i] = i % 4;
            for (int p = 0; p < size * size; p++) pixels[i * size * size + p] = (byte)Math.Clamp(50 * labels[i] + rng.Next(-40, 40) + 40 + p % 8 * 4, 0, 255);
        }
        return new Dataset("ranks", 1, size, size, 4, pixels, labels);
    }

    /// <summary>A model's parameters on the host, from any backend.</summary>
    private static float[] Values(Model m)
    {
        var all = m.Parameters.AllValues;
        var host = new float[all.Elements];
        m.Backend.CopyToHost<float>(all, host);
        return host;
    }

    /// <summary>Two convolutions and two linear layers, no batch norm: data parallelism is then exactly a larger batch.</summary>
    private static ModelGraph NoNorm()
    {
        var g = new ModelGraph("nonorm", Shape.Of(1, 8, 8));
        var x = g.Apply("conv1", new Conv2d(1, 8, 3, padding: 1), g.Input);
        x = g.Apply("relu1", new ReLU(), x);
        x = g.Apply("conv2", new Conv2d(8, 8, 3, padding: 1), x);
        x = g.Apply("relu2", new ReLU(), x);
        x = g.Apply("pool", new GlobalAvgPool2d(), x);
        x = g.Apply("flatten", new Flatten(), x);
        x = g.Apply("fc1", new Linear(8, 16), x);
        x = g.Apply("relu3", new ReLU(), x);
        g.Apply("fc2", new Linear(16, 4), x);
        return g;
    }

    private static (Model Model, Trainer Trainer, DataLoader Loader, Optimizer Optimizer) Setup(IBackend backend, Dataset data, OptimizerOptions opt, int batch, DatasetShard? shard, LossScalerOptions? scaling = null, Func<ModelGraph>? graph = null)
    {
        var model = new Model((graph ?? NoNorm)(), backend, seed: 3);
        var optimizer = OptimizerFactory.Create(opt, model.Parameters);
        var loader = new DataLoader(data, batch, shuffle: true, Normalization.FromDataset(data), null, seed: 5, dropLast: true, workers: 0, shard: shard);
        var schedule = ScheduleFactory.Create(new ScheduleOptions("cosine"), opt.LearningRate, loader.BatchesPerEpoch, 2);
        var trainer = new Trainer(model, optimizer, schedule, new CrossEntropyLoss(), batch, seed: 7);
        trainer.ConfigureLossScaling(scaling);
        return (model, trainer, loader, optimizer);
    }

    /// <summary>
    /// 20 steps (2 epochs of 10) on 320 images: one process with batch 32, and the two ranks with 16 each on their shards.
    /// Tolerance: per element |a − b| ≤ 1e-6 + 1e-5·|b|. Each rank sums 16 per-sample gradients and the all-reduce adds the
    /// two halves, where the single process sums 32 in another order: fp32 rounding (2^-24 ≈ 6e-8 relative per addition)
    /// differs in the last bits each step, and 20 steps of momentum or Adam's division carry it. Measured: at most 7.5e-9
    /// absolute (SGD 4.2e-9), about 1% of the bound; a wrong average (a factor 2) or a wrong shard (other samples) is
    /// orders of magnitude beyond it.
    /// </summary>
    private static void Equal(ProcessGroup group, OptimizerOptions opt, bool cuda = false)
    {
        var data = Images(320);
        // On GPUs: one rank per device (cuda:LocalRank), gradients over NCCL.
        using var backend = cuda ? BackendFactory.Create(group.DeviceFor(Device.Cuda(0))) : new CpuBackend();
        var (refModel, refTrainer, refLoader, _) = Setup(backend, data, opt, 32, null);
        var (model, trainer, loader, _) = Setup(backend, data, opt, 16, new DatasetShard(group.Rank, group.Size));
        trainer.Distribute(group);
        for (int epoch = 0; epoch < 2; epoch++)
        {
            refTrainer.TrainEpoch(refLoader, epoch);
            trainer.TrainEpoch(loader, epoch);
        }
        Ok("steps", trainer.GlobalStep == 20 && refTrainer.GlobalStep == 20, $"{trainer.GlobalStep} and {refTrainer.GlobalStep}");
        float[] expected = Values(refModel), actual = Values(model);
        double worst = 0, worstDiff = 0;
        int at = -1;
        for (int i = 0; i < expected.Length; i++)
        {
            double diff = Math.Abs(actual[i] - expected[i]), ratio = diff / (1e-6 + 1e-5 * Math.Abs(expected[i]));
            if (ratio > worst) (worst, worstDiff, at) = (ratio, diff, i);
        }
        using var initial = new Model(NoNorm(), backend, seed: 3);
        bool moved = expected.Zip(Values(initial)).Any(p => p.First != p.Second);
        Ok($"{opt.Name} weights match one process with the global batch", worst <= 1 && moved,
            $"worst element {at}: |diff| {worstDiff:E2}, {worst:F3} of the tolerance; weights moved: {moved}");
        // Every rank holds the same weights, bit for bit: rank 0's copy broadcast and compared.
        var mine = Values(model);
        using var buffer = backend.Allocate(mine.Length * sizeof(float));
        var copy = new Tensor(buffer, 0, Shape.Of(mine.Length));
        backend.CopyFromHost<float>(mine, copy);
        group.CollectivesFor(backend).Broadcast(copy, root: 0);
        var received = new float[mine.Length];
        backend.CopyToHost<float>(copy, received);
        Ok("identical on every rank", received.AsSpan().SequenceEqual(mine));
        trainer.Dispose(); refTrainer.Dispose(); loader.Dispose(); refLoader.Dispose(); model.Dispose(); refModel.Dispose();
    }

    /// <summary>The worst element of |actual − expected| against atol + rtol·|expected|: (ratio to the bound, |diff|, index).</summary>
    private static (double Ratio, double Diff, int At) Worst(float[] expected, float[] actual, double atol, double rtol)
    {
        (double Ratio, double Diff, int At) worst = (0, 0, -1);
        for (int i = 0; i < expected.Length; i++)
        {
            double diff = Math.Abs(actual[i] - expected[i]), ratio = diff / (atol + rtol * Math.Abs(expected[i]));
            if (!(ratio <= worst.Ratio)) worst = (ratio, diff, i);
        }
        return worst;
    }

    /// <summary>Rank 0's copy of <paramref name="values"/> equals this rank's, bit for bit.</summary>
    private static bool SameOnEveryRank(ProcessGroup group, IBackend backend, float[] values)
    {
        using var buffer = backend.Allocate(Math.Max(values.Length, 1) * sizeof(float));
        var copy = new Tensor(buffer, 0, Shape.Of(values.Length));
        backend.CopyFromHost<float>(values, copy);
        group.CollectivesFor(backend).Broadcast(copy, root: 0);
        var received = new float[values.Length];
        backend.CopyToHost<float>(copy, received);
        return received.AsSpan().SequenceEqual(values);
    }

    /// <summary>
    /// ResNet-20 (the zoo's, on 1×8×8 images), SGD with momentum, 20 steps along one process's trajectory with batch 16:
    /// before each step the two ranks' models (batch 8 each, sync batch norm) take the single process's weights, running
    /// statistics and momentum, then all take the step on the same global batch, and the results are compared per element.
    /// Steps are compared one at a time because chained steps amplify any difference without bound on this tiny,
    /// fast-trained net (docs/distributed.md). Two outcomes, told apart by comparing every ReLU's output sign:
    /// <list type="bullet">
    /// <item>no ReLU took the other branch (most steps): |a − b| ≤ 1e-6 + 1e-5·|b|. The ranks add the same values in
    /// another order (each rank's 8 samples, then the exchange): a few fp32 ulps.</item>
    /// <item>a pre-activation lay within that rounding of zero (measured: 9.5e-8, and an exact 0 after a residual add), so
    /// one element's gradient passes on one side and not on the other: |a − b| ≤ 2e-4 + 1e-4·|b| (measured up to 4e-5).
    /// The single process against itself on 2 threads would do the same wherever its rounding lands on such an element.</item>
    /// </list>
    /// The same 2 ranks without sync batch norm normalise over 8 samples instead of 16, a different function of the data:
    /// that difference must exceed the first tolerance 100 times over on the clean steps, so a sync batch norm that did
    /// nothing would fail. The synced ranks' weights and running statistics are also identical, bit for bit, on both ranks.
    /// </summary>
    private static void SyncBatchNorm(ProcessGroup group)
    {
        const double atol = 1e-6, rtol = 1e-5, kinkAtol = 2e-4, kinkRtol = 1e-4;
        const int steps = 20;
        var data = Images(16 * steps);
        using var backend = new CpuBackend();
        var collectives = group.CollectivesFor(backend);
        var opt = new OptimizerOptions("sgd", 0.05f, 0.9f, 5e-4f);
        Func<ModelGraph> resnet = () => DeepTrain.Zoo.ModelZoo.Create("resnet20", 1, 4, 8);
        var shard = new DatasetShard(group.Rank, group.Size);
        var (refModel, refTrainer, refLoader, refOptimizer) = Setup(backend, data, opt, 16, null, graph: resnet);
        var (model, trainer, loader, optimizer) = Setup(backend, data, opt, 8, shard, graph: resnet);
        var (plainModel, plainTrainer, plainLoader, plainOptimizer) = Setup(backend, data, opt, 8, shard, graph: resnet);
        trainer.Distribute(collectives, group.Options with { SyncBatchNorm = true });
        plainTrainer.Distribute(collectives, group.Options with { SyncBatchNorm = false });
        var loss = new CrossEntropyLoss();
        (double Ratio, double Diff, int At) clean = default, kinked = default, plain = default;
        int cleanSteps = 0, taken = 0;
        bool identical = true;
        using var refBatches = refLoader.Epoch(0).GetEnumerator();
        using var batches = loader.Epoch(0).GetEnumerator();
        using var plainBatches = plainLoader.Epoch(0).GetEnumerator();
        for (; taken < steps && refBatches.MoveNext() && batches.MoveNext() && plainBatches.MoveNext(); taken++)
        {
            CopyState(refModel, refOptimizer, model, optimizer);
            CopyState(refModel, refOptimizer, plainModel, plainOptimizer);
            PlanInput.Load(backend, loss, refTrainer.TrainPlan, refBatches.Current);
            PlanInput.Load(backend, loss, trainer.TrainPlan, batches.Current);
            PlanInput.Load(backend, loss, plainTrainer.TrainPlan, plainBatches.Current);
            Span<double> kinks = [ReluBranchesTaken(refTrainer.TrainPlan, trainer.TrainPlan, group.Rank, group.Size)];
            collectives.AllReduceSum(kinks);
            // The observing forwards updated the running statistics once more; start all three equal again.
            backend.Copy(refModel.Parameters.AllBuffers, model.Parameters.AllBuffers);
            backend.Copy(refModel.Parameters.AllBuffers, plainModel.Parameters.AllBuffers);
            refTrainer.StepLoadedBatch();
            trainer.StepLoadedBatch();
            plainTrainer.StepLoadedBatch();
            float[] expected = [.. Values(refModel), .. refModel.Parameters.AllBuffers.ToArray()];
            float[] synced = [.. Values(model), .. model.Parameters.AllBuffers.ToArray()];
            if (kinks[0] == 0)
            {
                cleanSteps++;
                clean = Max(clean, Worst(expected, synced, atol, rtol));
                plain = Max(plain, Worst(expected, [.. Values(plainModel), .. plainModel.Parameters.AllBuffers.ToArray()], atol, rtol));
            }
            else kinked = Max(kinked, Worst(expected, synced, kinkAtol, kinkRtol));
            identical &= SameOnEveryRank(group, backend, synced);
        }
        Ok("steps", taken == steps && cleanSteps >= steps / 2, $"{taken} of {steps}, {cleanSteps} without a ReLU taking the other branch");
        Ok("sync-bn weights and running statistics match one process with the global batch", clean.Ratio <= 1,
            $"worst element {clean.At} over {cleanSteps} steps: |diff| {clean.Diff:E2}, {clean.Ratio:F3} of the tolerance");
        Ok("sync-bn steps where a ReLU took the other branch stay within their bound", kinked.Ratio <= 1,
            $"worst element {kinked.At} over {taken - cleanSteps} steps: |diff| {kinked.Diff:E2}, {kinked.Ratio:F3} of that bound");
        Ok("sync-bn weights and running statistics identical on every rank", identical);
        Ok("without sync-bn the weights differ beyond the tolerance", plain.Ratio > 100,
            $"worst element {plain.At}: |diff| {plain.Diff:E2}, {plain.Ratio:F0} times the tolerance");
        foreach (var d in new IDisposable[] { trainer, plainTrainer, refTrainer, optimizer, plainOptimizer, refOptimizer, loader, plainLoader, refLoader, model, plainModel, refModel }) d.Dispose();
    }

    /// <summary>
    /// How many ReLU outputs of this rank's samples are positive on one side and not on the other, from one observing
    /// forward of each plan on its loaded batch: rank r's sample j is the single process's sample N·j + r.
    /// </summary>
    private static int ReluBranchesTaken(Plan single, Plan rank, int r, int ranks)
    {
        var expected = new List<float[]>();
        var actual = new List<float[]>();
        single.ForwardObserved((s, output) => { if (s.Layer is ReLU) expected.Add(output); });
        rank.ForwardObserved((s, output) => { if (s.Layer is ReLU) actual.Add(output); });
        int flips = 0;
        for (int l = 0; l < expected.Count; l++)
        {
            int per = actual[l].Length / rank.BatchSize;
            for (int j = 0; j < rank.BatchSize; j++)
                for (int i = 0; i < per; i++)
                    if (expected[l][(ranks * j + r) * per + i] > 0 != actual[l][j * per + i] > 0) flips++;
        }
        return flips;
    }

    private static (double Ratio, double Diff, int At) Max((double Ratio, double Diff, int At) a, (double Ratio, double Diff, int At) b) => b.Ratio > a.Ratio ? b : a;

    /// <summary>Weights, running statistics and optimizer state (SGD's momentum) of one model copied into another of the same graph.</summary>
    private static void CopyState(Model from, Optimizer fromOptimizer, Model to, Optimizer toOptimizer)
    {
        var backend = from.Backend;
        backend.Copy(from.Parameters.AllValues, to.Parameters.AllValues);
        if (from.Parameters.BufferFloats > 0) backend.Copy(from.Parameters.AllBuffers, to.Parameters.AllBuffers);
        var (source, target) = (fromOptimizer.State, toOptimizer.State);
        for (int i = 0; i < source.Count; i++) backend.Copy(source[i].Value, target[i].Value);
    }

    private static void Collectives(ProcessGroup group)
    {
        using var backend = new CpuBackend();
        var c = group.CollectivesFor(backend);
        int r = group.Rank;
        // Rank r contributes (r + 1)·i: the sum is 3i, exact in fp32 below 2^24 / 3. 100 003: no multiple of a vector or segment.
        var values = Enumerable.Range(0, 100_003).Select(i => (r + 1) * (float)i).ToArray();
        using var t = Tensor.FromArray(values, Shape.Of(values.Length));
        using (var req = c.StartAllReduceSum(t)) req.Wait(TimeSpan.FromSeconds(30));
        var sum = t.ToArray();
        int bad = -1;
        for (int i = 0; i < sum.Length && bad < 0; i++) if (sum[i] != 3f * i) bad = i;
        Ok("all-reduce sum of known values", bad < 0, bad < 0 ? "" : $"[{bad}] = {sum[bad]}, expected {3f * bad}");
        using var ints = Tensor.FromArray([r == 1 ? 7 : 2, r], Shape.Of(2));
        c.AllReduceMax(ints);
        Ok("all-reduce max", ints.AsSpan<int>()[0] == 7 && ints.AsSpan<int>()[1] == 1, $"[{ints.AsSpan<int>()[0]}, {ints.AsSpan<int>()[1]}]");
        Span<double> counts = [r + 0.5, 1e15 + r];
        c.AllReduceSum(counts);
        Ok("sum of host counts", counts[0] == 2.0 && counts[1] == 2e15 + 1, $"{counts[0]}, {counts[1]}");

        // Found-inf: rank 1 alone feeds a non-finite input, so only its gradients overflow. Both must skip the step.
        var data = Images(64);
        var (model, trainer, _, _) = Setup(backend, data, new OptimizerOptions("sgd", 0.05f, 0.9f, 0f), 16, new DatasetShard(r, 2), LossScalerOptions.Dynamic);
        trainer.Distribute(group);
        var before = model.Parameters.AllValues.ToArray();
        var scaleBefore = trainer.Scaler!.Read().Scale;
        var input = new float[trainer.TrainPlan.Input.Elements];
        for (int i = 0; i < input.Length; i++) input[i] = (i % 7) * 0.1f;
        if (r == 1) input[5] = float.PositiveInfinity;
        backend.CopyFromHost<float>(input, trainer.TrainPlan.Input);
        backend.CopyFromHost<int>(Enumerable.Range(0, 16).Select(i => i % 4).ToArray(), trainer.TrainPlan.Target);
        trainer.StepLoadedBatch();
        var s = trainer.Scaler.Read();
        Ok("found-inf combined: both ranks skip", s.StepCount == 0 && s.Scale == scaleBefore / 2 && model.Parameters.AllValues.ToArray().AsSpan().SequenceEqual(before),
            $"step count {s.StepCount}, scale {scaleBefore} -> {s.Scale}");
        // The flag alone: rank 1 raises it, the combination raises it on rank 0 too.
        var state = trainer.Scaler.State;
        var fields = trainer.Scaler.Read() with { FoundInf = r == 1 ? 1 : 0 };
        trainer.Scaler.Restore(fields);
        trainer.Parallel!.CombineFoundInf(state);
        Ok("found-inf flag maximum", trainer.Scaler.Read().FoundInf == 1, $"flag {trainer.Scaler.Read().FoundInf}");
        trainer.Dispose();
        model.Dispose();
    }

    /// <summary>
    /// Buckets of 300 bytes over the no-norm model (fc2's 68 floats fill the first): the first must start right after fc2's
    /// backward (step 8 of 9), with eight layers' backward still to run, and most buckets before backward ends.
    /// </summary>
    private static void Overlap(ProcessGroup group)
    {
        var data = Images(64);
        using var backend = new CpuBackend();
        var (model, trainer, loader, _) = Setup(backend, data, new OptimizerOptions("sgd", 0.05f, 0.9f, 0f), 16, new DatasetShard(group.Rank, group.Size));
        trainer.Distribute(group.CollectivesFor(backend), group.Options with { BucketBytes = 300 });
        var events = new List<string>();
        var buckets = trainer.Parallel!.Buckets;
        buckets.BucketStarted = (b, step) => events.Add(step >= 0 ? $"bucket {b} at backward step {step}" : $"bucket {b} after backward");
        buckets.BackwardEnded = () => events.Add("backward ended");
        foreach (var batch in loader.Epoch(0).Take(1))
        {
            PlanInput.Load(backend, new CrossEntropyLoss(), trainer.TrainPlan, batch);
            trainer.StepLoadedBatch();
        }
        Console.WriteLine($"rank {_rank}: {buckets.Count} buckets of {string.Join(", ", buckets.BucketFloats)} floats; " + string.Join("; ", events));
        int end = events.IndexOf("backward ended");
        int during = events.Take(Math.Max(end, 0)).Count(e => e.Contains("at backward step", StringComparison.Ordinal));
        Ok("buckets start before backward ends", buckets.Count >= 3 && end > 0 && during >= buckets.Count - 1 && events[0] == "bucket 0 at backward step 8",
            $"{during} of {buckets.Count} started during backward; the first: {events[0]}");
        trainer.Dispose();
        model.Dispose();
    }

    /// <summary>Rank 1 alone gets a 6×6 test set: its TrainingRun fails its data check and must end the job.</summary>
    private static void BadInput(ProcessGroup group)
    {
        using var backend = new CpuBackend();
        var train = Images(64);
        var test = group.Rank == 1 ? Images(16, size: 6) : Images(16);
        var options = new FitOptions { Epochs = 1, BatchSize = 8, EvalBatchSize = 8, Schedule = new ScheduleOptions("cosine") };
        using var run = new TrainingRun(NoNorm(), train, test, backend, options, group);
        run.Fit();
        Console.WriteLine($"rank {_rank}: FAIL bad-input: the run completed");
        _failures++;
    }

    /// <summary>
    /// Rank 1 reaches the start-up broadcast of the parameters 30 s late (as a rank stuck loading its data would): rank 0's
    /// broadcast gives up after the 2 s watchdog, naming itself and what it waited for, and aborts the job, so rank 1 never
    /// wakes up to say so.
    /// </summary>
    private static void LateStart(ProcessGroup group)
    {
        using var backend = new CpuBackend();
        var options = new FitOptions { Epochs = 1, BatchSize = 8, EvalBatchSize = 8, Schedule = new ScheduleOptions("cosine") };
        if (group.Rank == 1)
        {
            Console.WriteLine($"rank {_rank}: sleeping before the start");
            Console.Out.Flush();
            Thread.Sleep(TimeSpan.FromSeconds(30));
            Console.WriteLine($"rank {_rank}: FAIL late-start: woke up, the job was not aborted");
        }
        using var run = new TrainingRun(NoNorm(), Images(64), Images(16), backend, options, group);
        Console.WriteLine($"rank {_rank}: FAIL late-start: the start-up broadcast completed");
        _failures++;
    }

    /// <summary>Rank 1 dies by SIGKILL at its third step; rank 0 is then waiting in an all-reduce that cannot complete.</summary>
    private static void Kill(ProcessGroup group)
    {
        using var backend = new CpuBackend();
        var options = new FitOptions { Epochs = 2, BatchSize = 8, EvalBatchSize = 8, Schedule = new ScheduleOptions("cosine") };
        using var run = new TrainingRun(NoNorm(), Images(128), Images(16), backend, options, group);
        var progress = new Inline(p =>
        {
            if (group.Rank == 1 && p.Step is { Batch: 3 })
            {
                Console.WriteLine($"rank {_rank}: killing myself");
                Console.Out.Flush();
                Process.GetCurrentProcess().Kill();
            }
        });
        run.Fit(progress);
        Console.WriteLine($"rank {_rank}: FAIL kill: the run completed");
        _failures++;
    }

    private sealed class Inline(Action<TrainingProgress> report) : IProgress<TrainingProgress>
    {
        public void Report(TrainingProgress value) => report(value);
    }
}
