module tapstate.example/client

go 1.19
