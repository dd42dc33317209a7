using System.Reflection.Metadata;
using System.Reflection.Metadata.Ecma335;
using System.Reflection.PortableExecutable;
using System.Text.RegularExpressions;
using Xunit;

namespace DeepTrain.Tests.Training;

/// <summary>
/// The engine speaks its API: no message of the library names a command-line flag (DESIGN.md: "the engine never names a
/// CLI flag"); the CLI translates API names into its flags.
/// </summary>
public partial class EngineMessageTests
{
    [GeneratedRegex(@"(?<![\w-])--[a-z][a-z0-9]*(?:-[a-z0-9]+)*")]
    private static partial Regex Flag();

    /// <summary>Every string literal (the user-string heap: plain literals and the literal parts of interpolated ones).</summary>
    private static IEnumerable<string> Literals(System.Reflection.Assembly assembly)
    {
        using var stream = File.OpenRead(assembly.Location);
        using var pe = new PEReader(stream);
        var md = pe.GetMetadataReader();
        if (md.GetHeapSize(HeapIndex.UserString) <= 1) yield break;
        for (var h = MetadataTokens.UserStringHandle(1); !h.IsNil; h = md.GetNextHandle(h))
            yield return md.GetUserString(h);
    }

    [Theory]
    [InlineData("DeepTrain")]
    [InlineData("DeepTrain.Interop")]
    [InlineData("DeepTrain.Onnx")]
    public void NoLibraryLiteral_NamesACommandLineFlag(string assemblyName)
    {
        var assembly = System.Reflection.Assembly.Load(assemblyName);
        var hits = Literals(assembly)
            .Where(s => Flag().IsMatch(s))
            .ToArray();
        Assert.True(hits.Length == 0, $"{assemblyName} has {hits.Length} literal(s) naming a CLI flag:\n  " + string.Join("\n  ", hits));
        Assert.Contains(Literals(assembly), s => s.Length > 20);   // the scan saw the literals at all
    }

    [Theory]
    [InlineData("FitOptions.ValidationSamples must be in [0, 95]", "--val-split must be in [0, 95]")]
    [InlineData("resume it with FitOptions.Precision = fp16, not fp32", "resume it with --precision fp16, not fp32")]
    [InlineData("turn loss scaling off (FitOptions.LossScaling = off, or FitOptions.Precision = bf16)", "turn loss scaling off (--loss-scale off, or --precision bf16)")]
    [InlineData("OptimizerOptions.L1 must be a finite number ≥ 0, got -0.1", "--l1 must be a finite number ≥ 0, got -0.1")]
    [InlineData("rotation (AugmentationOptions.Degrees) must be in [0, 5]", "rotation (--rotate) must be in [0, 5]")]
    [InlineData("(sm_75) has no bfloat16 support; use FitOptions.Precision = fp16 or fp32", "(sm_75) has no bfloat16 support; use --precision fp16 or fp32")]
    [InlineData("Model.Unknown stays", "Model.Unknown stays")]
    public void TheCli_TranslatesApiNamesIntoItsFlags(string engine, string cli)
        => Assert.Equal(cli, DeepTrain.Cli.Commands.CliErrors.ToFlags(engine));
}
