-- wrk script: the demo app's realistic mix, in a fixed rotation (3 list, 2 item, 1 page,
-- 1 compute per 7 requests), so every contender gets exactly the same sequence.
local paths = {"/api/items", "/api/items/7", "/api/items", "/page", "/api/items/42",
               "/api/items", "/compute"}
local i = 0
request = function()
  i = i % #paths + 1
  return wrk.format("GET", paths[i])
end
