// One process, both sides, the same weights: a zoo model (seeded) runs DeepTrain's evaluation plan (Model.Compile(training:
// false), until InferenceSession lands) and ONNX Runtime on its export (graph optimisation all, intra-op threads = the
// same count, inter-op 1). Sides alternate every round; each round times ITERS forward passes after WARMUP; prints each
// round's p50/p99 latency and throughput per side, and the ratio of medians.
// Usage: InferenceBench <model> <CxHxW> <batch> <threads> <rounds> <iters> <warmup>
using System.Diagnostics;
using System.Globalization;
using DeepTrain.Backends;
using DeepTrain.Backends.Cpu;
using DeepTrain.Losses;
using DeepTrain.Modeling;
using DeepTrain.Onnx;
using DeepTrain.Zoo;
using Ort = Microsoft.ML.OnnxRuntime;

var inv = CultureInfo.InvariantCulture;
string name = args[0];
int[] chw = Array.ConvertAll(args[1].Split('x'), int.Parse);
int batch = int.Parse(args[2], inv), threads = int.Parse(args[3], inv), rounds = int.Parse(args[4], inv), iters = int.Parse(args[5], inv), warmup = int.Parse(args[6], inv);
CpuBackend.Threads = threads;
var info = ModelZoo.Find(name);
using var backend = BackendFactory.Create(DeepTrain.Tensors.Device.Cpu);
using var model = new Model(ModelZoo.Create(new ModelSpec(info.Name, chw[0], info.DefaultClasses, chw[1])), backend, seed: 1);
using var plan = model.Compile(batch, training: false, new CrossEntropyLoss());
var x = new float[plan.Input.Elements];
var rng = new Random(2);
for (int i = 0; i < x.Length; i++) x[i] = (float)rng.NextDouble();
backend.CopyFromHost<float>(x, plan.Input);
var y = new float[plan.Output.Elements];

using var ms = new MemoryStream();
OnnxExporter.Export(model, ms);
using var so = new Ort.SessionOptions { GraphOptimizationLevel = Ort.GraphOptimizationLevel.ORT_ENABLE_ALL, IntraOpNumThreads = threads, InterOpNumThreads = 1 };
using var session = new Ort.InferenceSession(ms.ToArray(), so);
using var input = Ort.OrtValue.CreateTensorValueFromMemory(x, [batch, chw[0], chw[1], chw[2]]);
using var output = Ort.OrtValue.CreateTensorValueFromMemory(y, [batch, info.DefaultClasses]);
using var run = new Ort.RunOptions();
string[] inNames = [OnnxExporter.InputName], outNames = [OnnxExporter.OutputName];

void DeepTrainOnce() { backend.CopyFromHost<float>(x, plan.Input); plan.Forward(); backend.CopyToHost<float>(plan.Output, y); }
void OrtOnce() => session.Run(run, inNames, [input], outNames, [output]);

Console.WriteLine($"config: {info.Name} input {args[1]} batch {batch}; deeptrain: CpuBackend, CpuBackend.Threads {threads}, evaluation plan (fp32, NCHW); "
    + $"onnxruntime {typeof(Ort.InferenceSession).Assembly.GetName().Version}: CPU provider, intra-op {threads}, inter-op 1, ORT_ENABLE_ALL, opset 17, BN folded");
var p50 = new Dictionary<string, List<double>> { ["deeptrain"] = [], ["onnxruntime"] = [] };
var tput = new Dictionary<string, List<double>> { ["deeptrain"] = [], ["onnxruntime"] = [] };
for (int r = 1; r <= rounds; r++)
{
    var order = r % 2 == 1 ? new[] { ("deeptrain", (Action)DeepTrainOnce), ("onnxruntime", OrtOnce) } : new[] { ("onnxruntime", (Action)OrtOnce), ("deeptrain", DeepTrainOnce) };
    foreach (var (side, once) in order)
    {
        for (int i = 0; i < warmup; i++) once();
        var ms2 = new double[iters];
        for (int i = 0; i < iters; i++) { long t0 = Stopwatch.GetTimestamp(); once(); ms2[i] = Stopwatch.GetElapsedTime(t0).TotalMilliseconds; }
        Array.Sort(ms2);
        double m50 = ms2[(iters - 1) / 2], m99 = ms2[Math.Min(iters - 1, (int)Math.Ceiling(0.99 * iters) - 1)], ips = batch * 1000.0 * iters / ms2.Sum();
        p50[side].Add(m50); tput[side].Add(ips);
        Console.WriteLine(string.Create(inv, $"round {r} {side,-11}: p50 {m50:F3} ms, p99 {m99:F3} ms, {ips:F1} images/s"));
    }
}
double Median(List<double> v) { var s = v.Order().ToArray(); return s[(s.Length - 1) / 2]; }
Console.WriteLine(string.Create(inv, $"summary {info.Name} {args[1]} batch {batch}: median p50 deeptrain {Median(p50["deeptrain"]):F3} ms, onnxruntime {Median(p50["onnxruntime"]):F3} ms; "
    + $"median images/s deeptrain {Median(tput["deeptrain"]):F1}, onnxruntime {Median(tput["onnxruntime"]):F1}; ratio (deeptrain / onnxruntime) throughput {Median(tput["deeptrain"]) / Median(tput["onnxruntime"]):F2}"));
