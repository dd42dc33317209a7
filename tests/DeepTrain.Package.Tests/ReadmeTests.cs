namespace DeepTrain.Package.Tests;

/// <summary>README's "Use it from your code" snippet is the program the round trip compiles against the packages.</summary>
public class ReadmeTests
{
    [Fact]
    public void TheReadmeSnippet_IsTheConsumerProgram_Verbatim()
    {
        string dir = Path.Combine(AppContext.BaseDirectory, "consumer");
        string readme = File.ReadAllText(Path.Combine(dir, "README.md")).Replace("\r\n", "\n");
        string program = File.ReadAllText(Path.Combine(dir, "Program.cs")).Replace("\r\n", "\n").TrimEnd('\n');
        Assert.True(readme.Contains("```csharp\n" + program + "\n```", StringComparison.Ordinal),
            "README.md's \"Use it from your code\" block must be tests/DeepTrain.Package.Tests/Consumer/Program.cs verbatim (ConsumerTests compiles that file against the packages)");
    }
}
