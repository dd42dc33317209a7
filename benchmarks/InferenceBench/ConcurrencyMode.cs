using System.Diagnostics;
using DeepTrain.Inference;
using Ort = Microsoft.ML.OnnxRuntime;
using static DeepTrain.InferenceBench.LatencyMode;

namespace DeepTrain.InferenceBench;

/// <summary>
/// N client threads, each sending one-sample requests back to back, against one shared session: DeepTrain's without and with
/// dynamic batching (max delay 2 ms, batches up to N), and ONNX Runtime's session shared by the same N threads. Per round
/// (order rotating) prints requests/s over the round's wall time and the p50/p99 request latency; then the medians and ratios.
/// </summary>
internal static class ConcurrencyMode
{
    public static void Run(Workload w, int rounds, int requests)
    {
        int clients = w.Batch, sample = w.Input.Length / w.Batch;
        var inputs = Enumerable.Range(0, clients).Select(c => w.Input.AsSpan(c * sample, sample).ToArray()).ToArray();
        int[] sizes = clients > 1 ? [1, clients] : [1];
        using var plain = w.DeepTrain(sizes, clients);
        using var batched = w.DeepTrain(sizes, clients, batching: new DynamicBatchingOptions { MaxDelay = TimeSpan.FromMilliseconds(2), MaxBatchSize = clients });
        using var ort = w.OnnxRuntime();
        var sides = new (string Name, Func<int, Action> Client)[]
        {
            ("deeptrain", c => { var y = new float[w.Classes]; return () => plain.Run(inputs[c], y); }),
            ("deeptrain-batched", c => { var y = new float[w.Classes]; return () => batched.Run(inputs[c], y); }),
            ("onnxruntime", c => OrtClient(ort, inputs[c], w)),
        };
        Console.WriteLine($"config: {w.ModelName} input {w.Chw}, {clients} client threads x {requests} one-sample requests per round, {w.Threads} compute threads; "
            + $"deeptrain: one InferenceSession (MaxConcurrency {clients}, plans {string.Join("/", sizes)}), deeptrain-batched: the same with DynamicBatching "
            + $"(MaxDelay 2 ms, MaxBatchSize {clients}); onnxruntime {Workload.OrtVersion}: one session shared by the threads (intra-op {w.Threads})");
        var tput = sides.ToDictionary(s => s.Name, _ => new List<double>());
        var p99 = sides.ToDictionary(s => s.Name, _ => new List<double>());
        for (int r = 1; r <= rounds; r++)
        {
            var order = sides.Skip((r - 1) % sides.Length).Concat(sides.Take((r - 1) % sides.Length));
            var round = new Dictionary<string, double>();
            foreach (var (name, client) in order)
            {
                var (rps, lat) = Round(clients, requests, client);
                double a = Timing.Quantile(lat, 0.5), b = Timing.Quantile(lat, 0.99);
                tput[name].Add(rps); p99[name].Add(b); round[name] = rps;
                Console.WriteLine(Inv($"round {r} {name,-18}: {rps:F1} requests/s, p50 {a:F3} ms, p99 {b:F3} ms"));
            }
            Console.WriteLine(Inv($"round {r} ratios (requests/s over onnxruntime's): deeptrain {round["deeptrain"] / round["onnxruntime"]:F2}, deeptrain-batched {round["deeptrain-batched"] / round["onnxruntime"]:F2}"));
        }
        foreach (var (name, _) in sides)
            Console.WriteLine(Inv($"summary {w.ModelName} {clients} clients {name,-18}: median {Timing.Median(tput[name]):F1} requests/s, median p99 {Timing.Median(p99[name]):F3} ms; ")
                + Inv($"over onnxruntime: {Timing.Median(tput[name]) / Timing.Median(tput["onnxruntime"]):F2}"));
    }

    private static Action OrtClient(Ort.InferenceSession session, float[] x, Workload w)
    {
        var y = new float[w.Classes];
        var input = Ort.OrtValue.CreateTensorValueFromMemory(x, [1, w.Shape[1], w.Shape[2], w.Shape[3]]);
        var output = Ort.OrtValue.CreateTensorValueFromMemory(y, [1, w.Classes]);
        var run = new Ort.RunOptions();
        string[] i = [Onnx.OnnxExporter.InputName], o = [Onnx.OnnxExporter.OutputName];
        return () => session.Run(run, i, [input], o, [output]);
    }

    /// <summary>Every client thread runs one warm-up request, waits at a barrier, then <paramref name="requests"/> timed ones.</summary>
    private static (double RequestsPerSecond, List<double> LatencyMs) Round(int clients, int requests, Func<int, Action> client)
    {
        var lat = new double[clients][];
        using var barrier = new Barrier(clients + 1);
        var threads = Enumerable.Range(0, clients).Select(c => new Thread(() =>
        {
            var call = client(c);
            call();
            var ms = new double[requests];
            barrier.SignalAndWait();
            for (int i = 0; i < requests; i++) { long t0 = Stopwatch.GetTimestamp(); call(); ms[i] = Stopwatch.GetElapsedTime(t0).TotalMilliseconds; }
            lat[c] = ms;
        })).ToList();
        threads.ForEach(t => t.Start());
        barrier.SignalAndWait();
        long start = Stopwatch.GetTimestamp();
        threads.ForEach(t => t.Join());
        double seconds = Stopwatch.GetElapsedTime(start).TotalSeconds;
        return (clients * requests / seconds, lat.SelectMany(v => v).ToList());
    }
}
