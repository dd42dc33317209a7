using System.Text;

namespace DeepTrain.Interop;

/// <summary>
/// Classifies cuDNN statuses for the convolution algorithm choice, and explains sub-library and compilation failures
/// with what the resolver loaded. Both are pure functions of their arguments, tested without a GPU.
/// </summary>
/// <remarks>
/// Values from cudnn_graph.h (9.6.0): SUBLIBRARY_VERSION_MISMATCH 1002, SUBLIBRARY_LOADING_FAILED 1008,
/// BAD_PARAM 2000–2012, NOT_SUPPORTED 3000–3013 (RUNTIME_PREREQUISITE_MISSING 3008, SUBLIBRARY_UNAVAILABLE 3009),
/// INTERNAL_ERROR 4000, INTERNAL_ERROR_COMPILATION_FAILED 4001, EXECUTION_FAILED 5000–5004. cudnn_ops_infer.h (8.9.1)
/// numbers one value per name: BAD_PARAM 3, INTERNAL_ERROR 4, EXECUTION_FAILED 8, NOT_SUPPORTED 9,
/// RUNTIME_PREREQUISITE_MISSING 11 (its documented status for a missing NVRTC), VERSION_MISMATCH 14 (what the
/// per-library version checks of 8's six libraries return).
/// <para>"Families" are taken by cause, not by thousand: 9's 1xxx category also holds NOT_INITIALIZED and LICENSE_ERROR,
/// and 4xxx holds generic internal and allocation errors, which another algorithm does not cure; those stay fatal, as
/// they were. cuDNN 8's INTERNAL_ERROR (4) stays fatal for the same reason (8's legacy convolutions never compile at run time).</para>
/// </remarks>
internal static class CudnnFailures
{
    /// <summary>What a failing cuDNN status says about the call, for deciding whether another algorithm is worth a try
    /// (nested: the bindings' top-level enums are C enums, which the conformance tests compare with the headers).</summary>
    public enum FailureKind
    {
        /// <summary>CUDNN_STATUS_SUCCESS.</summary>
        None,
        /// <summary>Anything else: the call itself, the handle or the process is wrong; another algorithm would fail alike.</summary>
        Fatal,
        /// <summary>cuDNN cannot run this algorithm here (the NOT_SUPPORTED, BAD_PARAM and EXECUTION_FAILED families).</summary>
        AlgorithmRefused,
        /// <summary>A sub-library the algorithm's engine lives in did not load or is of another release; engines of other
        /// sub-libraries may still run.</summary>
        SubLibrary,
        /// <summary>The engine is compiled at run time (NVRTC) and the compilation, or a prerequisite of it, failed; precompiled
        /// engines may still run.</summary>
        Compilation,
    }

    /// <summary>The kind of <paramref name="status"/> in the numbering of cuDNN <paramref name="cudnnMajor"/>.</summary>
    /// <param name="status">A status a cuDNN call returned.</param>
    /// <param name="cudnnMajor">The loaded cuDNN's major version (8 or 9; above 8 uses 9's numbering).</param>
    /// <returns>The kind.</returns>
    public static FailureKind Classify(cudnnStatus_t status, int cudnnMajor)
    {
        int v = (int)status;
        if (v == 0) return FailureKind.None;
        if (cudnnMajor <= 8)
        {
            return v switch
            {
                3 or 8 or 9 => FailureKind.AlgorithmRefused,   // BAD_PARAM, EXECUTION_FAILED, NOT_SUPPORTED
                14 => FailureKind.SubLibrary,                   // VERSION_MISMATCH
                11 => FailureKind.Compilation,                  // RUNTIME_PREREQUISITE_MISSING
                _ => FailureKind.Fatal,
            };
        }
        return status switch
        {
            cudnnStatus_t.CUDNN_STATUS_SUBLIBRARY_VERSION_MISMATCH or cudnnStatus_t.CUDNN_STATUS_SUBLIBRARY_LOADING_FAILED
                or cudnnStatus_t.CUDNN_STATUS_NOT_SUPPORTED_SUBLIBRARY_UNAVAILABLE => FailureKind.SubLibrary,
            cudnnStatus_t.CUDNN_STATUS_INTERNAL_ERROR_COMPILATION_FAILED
                or cudnnStatus_t.CUDNN_STATUS_NOT_SUPPORTED_RUNTIME_PREREQUISITE_MISSING => FailureKind.Compilation,
            _ => v / 1000 is 2 or 3 or 5 ? FailureKind.AlgorithmRefused : FailureKind.Fatal,
        };
    }

    /// <summary>Whether another algorithm is worth one try after <paramref name="status"/>.</summary>
    /// <param name="status">A status a cuDNN call returned.</param>
    /// <param name="cudnnMajor">The loaded cuDNN's major version.</param>
    /// <returns>True for <see cref="FailureKind.AlgorithmRefused"/>, <see cref="FailureKind.SubLibrary"/> and
    /// <see cref="FailureKind.Compilation"/>.</returns>
    public static bool IsRetryable(cudnnStatus_t status, int cudnnMajor) =>
        Classify(status, cudnnMajor) is FailureKind.AlgorithmRefused or FailureKind.SubLibrary or FailureKind.Compilation;

    /// <summary>What the resolver loaded that bears on a sub-library or compilation failure.</summary>
    /// <param name="Dispatcher">The cuDNN dispatcher's path, or null when it did not load.</param>
    /// <param name="SubLibraries">The resolver's attempts at pre-loading <c>libcudnn_*</c> beside it (loaded or not, with the loader's error).</param>
    /// <param name="MappedCudnnFiles">The <c>libcudnn*</c> files mapped into the process (from <c>/proc/self/maps</c>), to spot one from another folder.</param>
    /// <param name="Nvrtc">NVRTC's state in words (the resolver's <c>NvrtcState</c>).</param>
    public sealed record LoadState(string? Dispatcher, IReadOnlyList<LoadAttempt> SubLibraries, IReadOnlyList<string> MappedCudnnFiles, string Nvrtc);

    /// <summary>
    /// For a sub-library or compilation status, a sentence naming the sub-library files that did not load or that come from
    /// another folder than the dispatcher, and NVRTC's state; null for other statuses.
    /// </summary>
    /// <param name="status">The failing status.</param>
    /// <param name="cudnnMajor">The loaded cuDNN's major version.</param>
    /// <param name="state">What the resolver loaded.</param>
    /// <returns>The explanation, or null.</returns>
    public static string? Explain(cudnnStatus_t status, int cudnnMajor, LoadState state)
    {
        var kind = Classify(status, cudnnMajor);
        if (kind is not (FailureKind.SubLibrary or FailureKind.Compilation)) return null;
        var sb = new StringBuilder();
        string? folder = state.Dispatcher is null ? null : Path.GetDirectoryName(state.Dispatcher);
        var failed = state.SubLibraries.Where(a => !a.Loaded).ToList();
        var loaded = state.SubLibraries.Where(a => a.Loaded).Select(a => Path.GetFileName(a.Candidate)).ToList();
        var foreign = folder is null ? [] : state.MappedCudnnFiles
            .Where(f => Path.GetDirectoryName(f) is string d && !string.IsNullOrEmpty(d) && !string.Equals(d, folder, StringComparison.Ordinal))
            .Distinct(StringComparer.Ordinal).ToList();
        if (kind == FailureKind.SubLibrary)
        {
            sb.Append("cuDNN could not use one of its sub-libraries (dispatcher ").Append(state.Dispatcher ?? "not loaded").Append(')');
            if (failed.Count > 0)
                sb.Append("; not loaded: ").Append(string.Join("; ", failed.Select(a => $"{a.Candidate} ({a.Detail})")));
            if (foreign.Count > 0)
                sb.Append("; from another folder than the dispatcher's, so possibly another cuDNN release: ").Append(string.Join(", ", foreign));
            if (failed.Count == 0 && foreign.Count == 0)
                sb.Append(loaded.Count > 0
                    ? $"; every sub-library beside it was pre-loaded ({string.Join(", ", loaded)}), so the one it wanted is missing from that folder"
                    : "; no libcudnn_* sub-library was pre-loaded beside it (it came from the system loader, which finds them by name)");
        }
        else
        {
            sb.Append("cuDNN could not compile an engine at run time");
        }
        sb.Append("; NVRTC: ").Append(state.Nvrtc);
        return sb.ToString();
    }
}
