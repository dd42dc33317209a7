using Xunit;

namespace DeepTrain.Tests.Cli;

/// <summary>
/// Option values that do not parse or are out of range: one <c>error:</c> line naming the option and what it
/// takes, exit code 2, no stack trace. <c>-b abc</c> used to abort the process from inside the option validator
/// (issue 13, item 5).
/// </summary>
[Collection(nameof(ConsoleCollection))]
public class UsageErrorCliTests
{
    /// <summary>Every command with --batch-size, with the arguments that make the rest of its line valid.</summary>
    public static TheoryData<string, string> BatchSizes()
    {
        var data = new TheoryData<string, string>();
        foreach (string command in new[] { "train", "eval", "plan", "bench", "lr-find" })
            foreach (string value in new[] { "abc", "6.5", "99999999999", "0", "-3", "1e3", "" })
                data.Add(command, value);
        return data;
    }

    [Theory, MemberData(nameof(BatchSizes))]
    public void BadBatchSize_IsOneUsageErrorLine(string command, string value)
    {
        string[] rest = command switch
        {
            "eval" => ["--checkpoint", "none.safetensors"],
            "train" or "lr-find" => [],
            _ => ["--model", "lenet5"],
        };
        var (code, output, err) = CliRunner.Run([command, .. rest, "--batch-size", value]);
        Assert.Equal(2, code);
        Assert.Equal($"error: --batch-size expects a whole number ≥ 1, got '{value}'\nRun 'deeptrain {command} --help' for the options.\n", err.ReplaceLineEndings("\n"));
        Assert.DoesNotContain("   at ", err + output);
        Assert.Equal("", output);
    }

    [Theory]
    [InlineData("-b", "abc")]
    [InlineData("--batch-size", "6.5")]
    public void ShortAndLongNames_GiveTheSameMessage(string name, string value)
    {
        var (code, _, err) = CliRunner.Run("plan", "--model", "lenet5", name, value);
        Assert.Equal(2, code);
        Assert.StartsWith($"error: --batch-size expects a whole number ≥ 1, got '{value}'", err);
    }

    [Fact]
    public void IntegerOptionWithoutACheck_NamesOptionAndRange()
    {
        var (code, _, err) = CliRunner.Run("plan", "--model", "lenet5", "--optimizer-state", "two");
        Assert.Equal(2, code);
        Assert.StartsWith($"error: --optimizer-state expects a whole number from {int.MinValue} to {int.MaxValue}, got 'two'\n", err.ReplaceLineEndings("\n"));
        Assert.DoesNotContain("   at ", err);
    }

    [Theory]
    [InlineData("")]
    [InlineData("   ")]
    public void EmptyOutputFolder_IsAUsageError(string value)
    {
        var (code, output, err) = CliRunner.Run("train", "--out", value);
        Assert.Equal(2, code);
        Assert.StartsWith($"error: --out expects a folder path, got '{value}'\n", err.ReplaceLineEndings("\n"));
        Assert.Equal("", output);
    }

    [Theory]
    [InlineData("conv1=inf")]
    [InlineData("conv1=-1")]
    [InlineData("conv1=NaN")]
    public void LrScaleThatIsNotAFiniteRate_IsRefusedNamingIt(string value)
    {
        var (code, output, err) = CliRunner.Run("train", "--lr-scale", value, "--data-dir", "/nonexistent-deeptrain-data");
        Assert.Equal(1, code);
        Assert.Equal($"error: --lr-scale '{value}' is not valid: expected PREFIX=SCALE with SCALE finite and ≥ 0, e.g. layer1=0.1\n", err.ReplaceLineEndings("\n"));
        Assert.DoesNotContain("   at ", err + output);
    }

    [Fact]
    public void UnknownOption_IsAUsageError()
    {
        var (code, output, err) = CliRunner.Run("plan", "--model", "lenet5", "--bogus");
        Assert.Equal(2, code);
        Assert.StartsWith("error: Unrecognized command or argument '--bogus'.", err);
        Assert.Equal("", output);
    }

    [Fact]
    public void Help_StillWinsOverABadValue()
    {
        var (code, output, _) = CliRunner.Run("plan", "-b", "abc", "--help");
        Assert.Equal(0, code);
        Assert.Contains("--batch-size", output);
    }
}
