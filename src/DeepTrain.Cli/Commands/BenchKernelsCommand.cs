using System.CommandLine;
using System.Globalization;
using DeepTrain.Backends;
using DeepTrain.Backends.Cuda;
using DeepTrain.Interop;
using DeepTrain.Memory;
using DeepTrain.Tensors;
using static DeepTrain.Interop.Checks;

namespace DeepTrain.Cli.Commands;

/// <summary>
/// <c>deeptrain bench-kernels</c>: memory bandwidth of the kernel library's fused optimizer and loss-scaling kernels over
/// one flat buffer of N fp32 parameters, against a device-to-device copy measured in the same run — DeepTrain's side of
/// benchmarks/reference/pytorch_fused_adamw.py, with the same kernel names and JSON keys:
/// <code>
/// kernel                 call                                                   bytes moved per parameter
/// copy                   cudaMemcpyAsync D2D of 16·N bytes (w, g, m, v)          2 per byte copied
/// adamw_fused            dt_adam_f32, decoupled decay, no working copy           28: read w, g, m, v; write w, m, v
/// adamw_fused_fp16_copy  dt_adam_f32, decoupled decay, fp16 working copy         30: the above and write the 2-byte copy
/// unscale                dt_unscale_f32 (scale 1, so g keeps its values)         8: read g, write g
/// </code>
/// GB/s = bytes moved / seconds per call (10⁹ bytes); fraction_of_copy = GB/s / the copy's GB/s. Each figure is the median
/// of <c>--repeats</c> timings (CUDA events around <c>--iters</c> calls) after <c>--warmup</c> calls. Needs a GPU: without
/// one it fails with "CUDA unavailable: " and the probe's reason.
/// </summary>
internal static unsafe class BenchKernelsCommand
{
    /// <summary>ResNet-50's parameter count, pytorch_fused_adamw.py's default.</summary>
    public const long ResNet50Parameters = 25_557_032;

    public static Command Create()
    {
        var parameters = new Option<long>("--params") { Description = "fp32 parameters in the flat buffer (default: ResNet-50's 25,557,032; 2^26 = 67,108,864 is the other usual size)", DefaultValueFactory = _ => ResNet50Parameters };
        var iters = new Option<int>("--iters") { Description = "Calls per timing", DefaultValueFactory = _ => 50 };
        var warmup = new Option<int>("--warmup") { Description = "Untimed calls first", DefaultValueFactory = _ => 10 };
        var repeats = new Option<int>("--repeats") { Description = "Timings per kernel (the median is reported)", DefaultValueFactory = _ => 5 };
        var device = new Option<string>("--device") { Description = "cuda or cuda:N", DefaultValueFactory = _ => "cuda" };
        var json = new Option<bool>("--json") { Description = "One JSON line per kernel (pytorch_fused_adamw.py's keys) instead of a table" };
        var cmd = new Command("bench-kernels", "Measure the fused AdamW and unscale kernels in GB/s against a device-to-device copy (needs a GPU)")
            { parameters, iters, warmup, repeats, device, json };
        cmd.SetAction(r => CliErrors.Run(() => Run(r.GetValue(parameters), r.GetValue(iters), r.GetValue(warmup), r.GetValue(repeats), r.GetValue(device)!, r.GetValue(json))));
        return cmd;
    }

    /// <summary>One kernel's figure.</summary>
    private sealed record Row(string Kernel, long BytesPerCall, double Ms)
    {
        public double GbPerS => BytesPerCall / (Ms * 1e-3) / 1e9;
    }

    private static int Run(long n, int iters, int warmup, int repeats, string deviceText, bool json)
    {
        if (n < 1) throw new ArgumentException($"--params must be ≥ 1, got {n}");
        if (iters < 1 || repeats < 1 || warmup < 0) throw new ArgumentException($"--iters and --repeats must be ≥ 1 and --warmup ≥ 0, got {iters}, {repeats}, {warmup}");
        var device = Device.Parse(deviceText);
        if (device.Kind != DeviceKind.Cuda) throw new ArgumentException($"--device '{deviceText}': bench-kernels measures CUDA kernels, expected cuda or cuda:N");
        var (backend, reason) = BackendFactory.TryCreate(device);
        if (backend is not CudaBackend cuda)
        {
            backend?.Dispose();
            throw new InvalidOperationException($"CUDA unavailable: {reason}");
        }
        using var _ = cuda;
        // One block holds w, g, m, v (16·N bytes, the copy's source), a second the copy's destination, a third the fp16
        // working copy, and the device scalars (the unscale factor, the found-inf flag).
        using var state = cuda.Allocate(16 * n);
        using var copyDst = cuda.Allocate(16 * n);
        using var half = cuda.Allocate(2 * n);
        using var scalars = cuda.Allocate(16);
        float* w = (float*)state.Pointer, g = w + n, m = g + n, v = m + n;
        float* scale = (float*)scalars.Pointer;
        int* foundInf = (int*)(scalars.Pointer + 4);
        IntPtr stream = cuda.Stream.DangerousGetHandle();
        // Finite, non-trivial values without a host buffer: every byte 0x3C makes w ≈ 0.0115, 0x3A makes g ≈ 7.1e-4.
        Check(Cudart.cudaMemsetAsync(w, 0x3C, (nuint)(4 * n), cuda.Stream));
        Check(Cudart.cudaMemsetAsync(g, 0x3A, (nuint)(4 * n), cuda.Stream));
        Check(Cudart.cudaMemsetAsync(m, 0, (nuint)(8 * n), cuda.Stream));
        Check(Cudart.cudaMemsetAsync(foundInf, 0, 4, cuda.Stream));
        float one = 1f;   // unscale by 1: the gradients keep their values over the repetitions
        Check(Cudart.cudaMemcpyAsync(scale, &one, 4, cudaMemcpyKind.cudaMemcpyHostToDevice, cuda.Stream));
        cuda.Synchronize();

        long step = 0;
        void Adam(void* copy, Kernels.dt_half_kind kind) => Launched(Kernels.dt_adam_f32(w, g, m, v, copy, (int)kind, n,
            1e-3f, 0.9f, 0.999f, 1e-8f, 1e-2f, decoupled: 1, step_count: null, step: ++step, found_inf: foundInf, stream), "dt_adam_f32");

        using var start = NewEvent();
        using var end = NewEvent();
        double Time(Action call)
        {
            for (int i = 0; i < warmup; i++) call();
            var ms = new double[repeats];
            for (int r = 0; r < repeats; r++)
            {
                Check(Cudart.cudaEventRecord(start, cuda.Stream));
                for (int i = 0; i < iters; i++) call();
                Check(Cudart.cudaEventRecord(end, cuda.Stream));
                Check(Cudart.cudaEventSynchronize(end));
                Check(Cudart.cudaEventElapsedTime(out float e, start, end));
                ms[r] = e / (double)iters;
            }
            return StepClock.Median(ms);
        }

        var rows = new List<Row>
        {
            new("copy", 2 * 16 * n, Time(() => Check(Cudart.cudaMemcpyAsync((void*)copyDst.Pointer, w, (nuint)(16 * n), cudaMemcpyKind.cudaMemcpyDeviceToDevice, cuda.Stream)))),
            new("adamw_fused", 28 * n, Time(() => Adam(null, Kernels.dt_half_kind.DT_HALF_NONE))),
            new("adamw_fused_fp16_copy", 30 * n, Time(() => Adam((void*)half.Pointer, Kernels.dt_half_kind.DT_HALF_F16))),
            new("unscale", 8 * n, Time(() => Launched(Kernels.dt_unscale_f32(g, n, scale, foundInf, stream), "dt_unscale_f32"))),
        };
        int flag = 0;
        Check(Cudart.cudaMemcpy(&flag, foundInf, 4, cudaMemcpyKind.cudaMemcpyDeviceToHost));
        if (flag != 0) throw new InvalidOperationException("bench-kernels: the unscale raised the found-inf flag on finite data: the kernel is wrong, the figures are not reported");

        double copyGbs = rows[0].GbPerS;
        string impl = $"deeptrain {typeof(IBackend).Assembly.GetName().Version}";
        if (!json)
        {
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{n:N0} fp32 parameters in one flat buffer on {cuda.Description}; median of {repeats} × {iters} calls after {warmup}, CUDA events"));
            Console.WriteLine($"{"kernel",-22} {"B/param",8} {"ms",9} {"GB/s",8} {"of copy",8}");
        }
        foreach (var r in rows)
        {
            double fraction = r.GbPerS / copyGbs;
            Console.WriteLine(json
                ? BenchCommand.JsonLine(j =>
                {
                    j.WriteString("kernel", r.Kernel);
                    j.WriteNumber("params", n);
                    j.WriteNumber("tensors", 1);
                    j.WriteNumber("bytes_per_call", r.BytesPerCall);
                    j.WriteNumber("ms", Math.Round(r.Ms, 4));
                    j.WriteNumber("gb_s", Math.Round(r.GbPerS, 1));
                    j.WriteNumber("fraction_of_copy", Math.Round(fraction, 3));
                    j.WriteString("timer", "cuda events");
                    j.WriteString("device", cuda.Description);
                    j.WriteString("impl", impl);
                })
                : string.Create(CultureInfo.InvariantCulture, $"{r.Kernel,-22} {(r.Kernel == "copy" ? "2/B" : (r.BytesPerCall / n).ToString(CultureInfo.InvariantCulture)),8} {r.Ms,9:F4} {r.GbPerS,8:F1} {fraction,8:F3}"));
        }
        return 0;
    }

    private static CudaEvent NewEvent()
    {
        Check(Cudart.cudaEventCreateWithFlags(out var e, 0));
        return e;
    }

    /// <summary>Checks a kernel's returned cudaError_t; the exception's call text names the kernel.</summary>
    private static void Launched(int status, string kernel)
    {
        if (status != 0) Check((cudaError_t)status, kernel);
    }
}
