using System.Reflection;
using DeepTrain.Interop;
using DeepTrain.Layers;
using DeepTrain.Tests.Infrastructure;
using Xunit;

namespace DeepTrain.Tests.Errors;

/// <summary>
/// The library's error model (docs/architecture.md): every exception DeepTrain declares derives from
/// <see cref="DeepTrainException"/> unless it is an argument problem, and each lives in a file of its own name.
/// </summary>
public class ErrorModelTests
{
    private static readonly Assembly[] Libraries = [typeof(LayerShapeException).Assembly, typeof(CudaException).Assembly, typeof(DeepTrain.Onnx.OnnxExportException).Assembly];

    public static TheoryData<string> ExceptionTypes()
    {
        var data = new TheoryData<string>();
        foreach (var t in Libraries.SelectMany(a => a.GetTypes()).Where(t => typeof(Exception).IsAssignableFrom(t) && t != typeof(DeepTrainException)))
            data.Add(t.AssemblyQualifiedName!);
        return data;
    }

    [Theory]
    [MemberData(nameof(ExceptionTypes))]
    public void EveryLibraryException_DerivesFromTheRoot_OrIsAnArgumentProblem(string typeName)
    {
        var type = Type.GetType(typeName, throwOnError: true)!;
        Assert.True(typeof(DeepTrainException).IsAssignableFrom(type) || typeof(ArgumentException).IsAssignableFrom(type),
            $"{type.FullName} derives from {type.BaseType?.FullName}, expected DeepTrainException (or ArgumentException for a bad argument)");
    }

    [Theory]
    [MemberData(nameof(ExceptionTypes))]
    public void EveryLibraryException_LivesInAFileOfItsName(string typeName)
    {
        var type = Type.GetType(typeName, throwOnError: true)!;
        string name = type.Name.Split('`')[0];
        var files = Directory.EnumerateFiles(RepoPaths.Root, name + ".cs", SearchOption.AllDirectories)
            .Where(f => f.Contains($"{Path.DirectorySeparatorChar}src{Path.DirectorySeparatorChar}") || f.Contains($"{Path.DirectorySeparatorChar}interop{Path.DirectorySeparatorChar}"))
            .Where(f => !f.Contains($"{Path.DirectorySeparatorChar}obj{Path.DirectorySeparatorChar}"));
        Assert.True(files.Any(), $"{type.FullName} is not declared in a file named {name}.cs");
    }

    [Fact]
    public void TheRoot_CannotBeThrownBare()
    {
        Assert.True(typeof(DeepTrainException).IsAbstract);
    }
}
