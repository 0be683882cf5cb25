module example.com/openim-gateway-provision

go 1.19
