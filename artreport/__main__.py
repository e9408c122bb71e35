from artreport.cli import main

main()
