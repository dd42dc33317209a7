Console.WriteLine("deeptrain");
