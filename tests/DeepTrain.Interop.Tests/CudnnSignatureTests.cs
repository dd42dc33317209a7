using System.Reflection;
using System.Runtime.InteropServices;
using System.Text.RegularExpressions;

namespace DeepTrain.Interop.Tests;

/// <summary>
/// cuDNN declarations against their C prototypes. cuDNN's headers are not installed on the build machine, so the
/// prototypes are quoted here verbatim from cudnn_ops.h of cuDNN 9.6.0 (zspace/system.cuda-12.6,
/// b3d92c837713411301ae5df45b0c7758df7d931e; identical in 8.9's cudnn_ops_train.h), comments removed. Each C
/// parameter must bind to the managed type its kind requires: a handle or descriptor to a SafeHandle, an enum to an
/// enum, a pointer to a pointer, a double to a double — in the same order and with the same names.
/// </summary>
public sealed partial class CudnnSignatureTests
{
    private static readonly Dictionary<string, string> Prototypes = new()
    {
        ["cudnnBatchNormalizationForwardTraining"] = """
            cudnnHandle_t handle, cudnnBatchNormMode_t mode, const void *alpha, const void *beta,
            const cudnnTensorDescriptor_t xDesc, const void *x, const cudnnTensorDescriptor_t yDesc, void *y,
            const cudnnTensorDescriptor_t bnScaleBiasMeanVarDesc, const void *bnScale, const void *bnBias,
            double exponentialAverageFactor, void *resultRunningMean, void *resultRunningVariance, double epsilon,
            void *resultSaveMean, void *resultSaveInvVariance
            """,
        ["cudnnBatchNormalizationBackward"] = """
            cudnnHandle_t handle, cudnnBatchNormMode_t mode, const void *alphaDataDiff, const void *betaDataDiff,
            const void *alphaParamDiff, const void *betaParamDiff, const cudnnTensorDescriptor_t xDesc, const void *x,
            const cudnnTensorDescriptor_t dyDesc, const void *dy, const cudnnTensorDescriptor_t dxDesc, void *dx,
            const cudnnTensorDescriptor_t dBnScaleBiasDesc, const void *bnScale, void *dBnScaleResult, void *dBnBiasResult,
            double epsilon, const void *savedMean, const void *savedInvVariance
            """,
    };

    [GeneratedRegex(@"(\w+)\s*$")]
    private static partial Regex LastWord();

    [Theory]
    [InlineData("cudnnBatchNormalizationForwardTraining")]
    [InlineData("cudnnBatchNormalizationBackward")]
    public void Declaration_MatchesTheHeaderPrototype(string name)
    {
        var method = typeof(Cudnn).GetMethod(name, BindingFlags.Public | BindingFlags.Static)
            ?? throw new Xunit.Sdk.XunitException($"{name} is not declared on Cudnn");
        Assert.NotNull(method.GetCustomAttribute<LibraryImportAttribute>());
        Assert.Equal(typeof(cudnnStatus_t), method.ReturnType);
        var c = Prototypes[name].Split(',', StringSplitOptions.TrimEntries).Select(p => (Type: p[..LastWord().Match(p).Index].Trim(), Name: LastWord().Match(p).Groups[1].Value)).ToList();
        var managed = method.GetParameters();
        Assert.True(managed.Length == c.Count, $"{name}: {managed.Length} managed parameters, the header has {c.Count}");
        var problems = new List<string>();
        for (int i = 0; i < c.Count; i++)
        {
            var (ctype, cname) = c[i];
            Type m = managed[i].ParameterType;
            bool ok = ctype.EndsWith('*') ? m.IsPointer
                : ctype == "double" ? m == typeof(double)
                : ctype.Contains("Handle_t", StringComparison.Ordinal) || ctype.Contains("Descriptor_t", StringComparison.Ordinal) ? typeof(SafeHandle).IsAssignableFrom(m)
                : ctype.EndsWith("_t", StringComparison.Ordinal) && m.IsEnum && m.Name == ctype;
            if (!ok) problems.Add($"{name}: parameter {i} '{managed[i].Name}' is {m.Name}, the header has '{ctype} {cname}'");
            if (managed[i].Name != cname) problems.Add($"{name}: parameter {i} is named '{managed[i].Name}', the header says '{cname}'");
        }
        Assert.True(problems.Count == 0, string.Join("\n", problems));
    }
}
