from gradewatch.cli import main

main()
