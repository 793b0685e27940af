-- wrk script for benchmarks/receiver.py: POST the pre-signed events of the file named by
-- WRK_EVENTS ("<Stripe-Signature>\t<body>" per line), each once, in order, then again from
-- the start (duplicates) if the run outlasts the file. Use with one thread (-t1).
local signatures, bodies, i = {}, {}, 0

function init(args)
  local file = assert(io.open(os.getenv("WRK_EVENTS"), "r"))
  for line in file:lines() do
    local tab = line:find("\t", 1, true)
    signatures[#signatures + 1] = line:sub(1, tab - 1)
    bodies[#bodies + 1] = line:sub(tab + 1)
  end
  file:close()
end

function request()
  i = i % #bodies + 1
  return wrk.format("POST", nil, {
    ["Content-Type"] = "application/json",
    ["Stripe-Signature"] = signatures[i],
  }, bodies[i])
end
